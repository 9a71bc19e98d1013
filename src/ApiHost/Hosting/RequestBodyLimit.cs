using Microsoft.AspNetCore.Http.Features;

namespace OrleansJobs.ApiHost.Hosting;

/// <summary>
/// Bounds every request body to <see cref="MaxBytes"/>. Kestrel refuses a longer body with an
/// empty 413 while the JSON reader reads it; this answers 400 naming <c>body</c> instead, as for
/// any other unusable body.
/// </summary>
public static class RequestBodyLimit
{
    public const int MaxBytes = 256 * 1024;

    public static IApplicationBuilder UseRequestBodyLimit(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        if (context.Request.ContentLength > MaxBytes)
        {
            await WriteTooLargeAsync(context);
            return;
        }

        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = MaxBytes;
        }

        await next(context);
        if (context.Response.StatusCode == StatusCodes.Status413PayloadTooLarge && !context.Response.HasStarted)
        {
            await WriteTooLargeAsync(context);
        }
    });

    private static Task WriteTooLargeAsync(HttpContext context) =>
        ApiProblems.Invalid("body", $"is larger than {MaxBytes / 1024} KiB").ExecuteAsync(context);
}
