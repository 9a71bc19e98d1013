using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Diagnostics;

namespace OrleansJobs.ApiHost.Hosting;

/// <summary>
/// Turns the request binder's refusals (<see cref="BadHttpRequestException"/>: malformed JSON, a
/// member of the wrong type, an unknown member, a query value that does not parse) into the same
/// 400 problem as validation errors, naming the field: the JSON path of the offending member
/// (<c>$.checkpoint.everyItems</c> → <c>checkpoint.everyItems</c>), the query parameter, or
/// <c>body</c> when the body as a whole is unusable.
/// </summary>
public sealed partial class BadRequestExceptionHandler(ILogger<BadRequestExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is not BadHttpRequestException bad || httpContext.Response.HasStarted)
        {
            return false;
        }

        LogRefused(logger, httpContext.Request.Method, httpContext.Request.Path, bad.Message);
        if (bad.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            await ApiProblems.Invalid("body", RequestBodyLimit.TooLarge(RequestBodyLimit.Limit(httpContext))).ExecuteAsync(httpContext);
            return true;
        }

        if (bad.StatusCode != StatusCodes.Status400BadRequest)
        {
            // 415 (not JSON) and the like: the status says it all.
            await TypedResults.Problem(statusCode: bad.StatusCode, detail: bad.Message).ExecuteAsync(httpContext);
            return true;
        }

        var (field, message) = Describe(bad);
        await ApiProblems.Invalid(field, message).ExecuteAsync(httpContext);
        return true;
    }

    internal static (string Field, string Message) Describe(BadHttpRequestException exception)
    {
        if (exception.InnerException is JsonException json)
        {
            // A JsonException inside the JsonException is the reader's: the text is not JSON at all.
            if (json.InnerException is JsonException || json.Path is null)
            {
                return ("body", $"is not valid JSON (line {json.LineNumber + 1}, byte {json.BytePositionInLine + 1})");
            }

            var field = json.Path.TrimStart('$').TrimStart('.');
            if (field.Length == 0)
            {
                return ("body", "must be a JSON object with the fields of this request");
            }

            return json.Message.Contains("could not be mapped", StringComparison.Ordinal)
                ? (field, "is not a field of this request")
                : (field, json.Message.StartsWith("contains ", StringComparison.Ordinal)
                    ? json.Message
                    : "has the wrong type or format for this field");
        }

        if (exception.Message.EndsWith("from body.", StringComparison.Ordinal) || exception.Message.StartsWith("Implicit body", StringComparison.Ordinal))
        {
            return ("body", "is required: a JSON object with the fields of this request");
        }

        // "Failed to bind parameter "Nullable<int> Limit" from "abc"." (query, route and header values).
        var parameter = ParameterPattern().Match(exception.Message);
        return parameter.Success
            ? (ApiProblems.WireName(parameter.Groups["name"].Value), $"'{Shorten(parameter.Groups["value"].Value)}' is not a valid value")
            : ("request", exception.Message);
    }

    private static string Shorten(string value) => value.Length <= 100 ? value : value[..100] + "…";

    [GeneratedRegex("""^(?:Failed to bind|Required) parameter "(?:[^"]* )?(?<name>[A-Za-z0-9_]+)"(?: from "(?<value>.*)")?""", RegexOptions.Singleline)]
    private static partial Regex ParameterPattern();

    [LoggerMessage(Level = LogLevel.Debug, Message = "{Method} {Path}: request refused by the binder ({Reason})")]
    private static partial void LogRefused(ILogger logger, string method, PathString path, string reason);
}
