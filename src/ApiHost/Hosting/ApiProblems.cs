using System.Text;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using OrleansJobs.Jobs;

namespace OrleansJobs.ApiHost.Hosting;

/// <summary>A problem about one job (RFC 9457): which job, and its status when that is why the request failed.</summary>
public sealed class JobProblemDetails : ProblemDetails
{
    /// <summary>The job the problem is about.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? JobId { get; init; }

    /// <summary>The job's status when the request was refused because of it (409).</summary>
    /// <remarks>A status name rather than the enum: a nullable use of the enum would make its one shared schema nullable everywhere.</remarks>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? JobStatus { get; init; }
}

/// <summary>A problem about one library (404, 409): which library, and the jobs that hold or wait for its lock when they are why.</summary>
public sealed class LibraryProblemDetails : ProblemDetails
{
    /// <summary>The library the problem is about.</summary>
    public string? LibraryId { get; init; }

    /// <summary>Jobs that hold the library's lock (a delete refused while it is in use).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<string>? Holders { get; init; }

    /// <summary>Jobs that wait for the library's lock.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<string>? Waiting { get; init; }
}

/// <summary>A problem about one device (404, 409): which device, and the jobs that own or wait for it when they are why.</summary>
public sealed class DeviceProblemDetails : ProblemDetails
{
    /// <summary>The device the problem is about.</summary>
    public string? DeviceId { get; init; }

    /// <summary>The job that owns the device (a removal refused while it is in use).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Owner { get; init; }

    /// <summary>Jobs that wait for the device.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<string>? Waiting { get; init; }
}

/// <summary>The API's error answers, so that every handler words them alike.</summary>
public static class ApiProblems
{
    public const string InvalidTitle = "The request is invalid";

    public static ValidationProblem Invalid(IEnumerable<JobParameterError> errors) => TypedResults.ValidationProblem(
        errors.GroupBy(e => e.Field, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Select(e => e.Message).ToArray()),
        title: InvalidTitle);

    public static ValidationProblem Invalid(string field, string message) => Invalid([new JobParameterError(field, message)]);

    public static ProblemHttpResult NotFound(string id) => TypedResults.Problem(new JobProblemDetails
    {
        Title = "Job not found",
        Detail = $"No job has the id '{id}'.",
        Status = StatusCodes.Status404NotFound,
        JobId = id,
    });

    public static ProblemHttpResult LibraryNotFound(string id) => TypedResults.Problem(new LibraryProblemDetails
    {
        Title = "Library not found",
        Detail = $"No library has the id '{id}'.",
        Status = StatusCodes.Status404NotFound,
        LibraryId = id,
    });

    public static ProblemHttpResult LibraryConflict(string id, string title, string detail, IReadOnlyList<string>? holders = null, IReadOnlyList<string>? waiting = null) =>
        TypedResults.Problem(new LibraryProblemDetails
        {
            Title = title,
            Detail = detail,
            Status = StatusCodes.Status409Conflict,
            LibraryId = id,
            Holders = holders,
            Waiting = waiting,
        });

    public static ProblemHttpResult DeviceNotFound(string id) => TypedResults.Problem(new DeviceProblemDetails
    {
        Title = "Device not found",
        Detail = $"No device has the id '{id}'.",
        Status = StatusCodes.Status404NotFound,
        DeviceId = id,
    });

    public static ProblemHttpResult DeviceConflict(string id, string title, string detail, string? owner = null, IReadOnlyList<string>? waiting = null) =>
        TypedResults.Problem(new DeviceProblemDetails
        {
            Title = title,
            Detail = detail,
            Status = StatusCodes.Status409Conflict,
            DeviceId = id,
            Owner = owner,
            Waiting = waiting,
        });

    public static ProblemHttpResult Conflict(string id, JobStatus? status, string title, string detail) => TypedResults.Problem(new JobProblemDetails
    {
        Title = title,
        Detail = detail,
        Status = StatusCodes.Status409Conflict,
        JobId = id,
        JobStatus = status?.ToString(),
    });

    /// <summary>
    /// Gives every validation problem the API's title and its fields their names on the wire:
    /// .NET validation keys by CLR path (<c>Checkpoint.EveryItems</c>, <c>Types[0]</c>), while
    /// requests name JSON members (<c>checkpoint.everyItems</c>, <c>types[0]</c>).
    /// </summary>
    public static void Customize(ProblemDetailsContext context)
    {
        if (context.ProblemDetails is not HttpValidationProblemDetails validation)
        {
            return;
        }

        validation.Title = InvalidTitle;
        var errors = validation.Errors.ToList();
        validation.Errors.Clear();
        foreach (var (key, messages) in errors)
        {
            var field = WireName(key);
            validation.Errors[field] = validation.Errors.TryGetValue(field, out var more) ? [.. more, .. messages] : messages;
        }
    }

    /// <summary><c>Checkpoint.EveryItems</c> → <c>checkpoint.everyItems</c>: each segment's first letter lower-cased.</summary>
    public static string WireName(string path)
    {
        var name = new StringBuilder(path.Length);
        var segmentStart = true;
        foreach (var c in path)
        {
            name.Append(segmentStart ? char.ToLowerInvariant(c) : c);
            segmentStart = c == '.';
        }

        return name.ToString();
    }
}

/// <summary>Who a request acts as, as the journal and the logs name it.</summary>
public static class ApiActors
{
    /// <summary><c>api:&lt;key id&gt;</c>: the API key the request came with (<c>api:&lt;address&gt;</c> on the rare path without one).</summary>
    public static string Of(HttpContext http) =>
        http.User.FindFirst(Security.ApiKeyAuthenticationHandler.KeyIdClaim) is { } key ? $"api:{key.Value}" : $"api:{http.Connection.RemoteIpAddress}";
}
