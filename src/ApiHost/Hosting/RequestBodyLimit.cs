using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace OrleansJobs.ApiHost.Hosting;

/// <summary>Endpoint metadata: the endpoint takes an archive, bounded by <see cref="ApiHostOptions.ArchiveMaxBytes"/> instead of <see cref="RequestBodyLimit.MaxBytes"/>.</summary>
public sealed class ArchiveBody
{
    public static ArchiveBody Instance { get; } = new();

    private ArchiveBody()
    {
    }
}

/// <summary>
/// Bounds every request body to <see cref="MaxBytes"/> (an endpoint marked <see cref="ArchiveBody"/>: to
/// <see cref="ApiHostOptions.ArchiveMaxBytes"/>). Kestrel refuses a longer body with an empty 413 while the JSON
/// reader reads it; this answers 400 naming <c>body</c> instead, as for any other unusable body.
/// </summary>
public static class RequestBodyLimit
{
    public const int MaxBytes = 256 * 1024;

    public static IApplicationBuilder UseRequestBodyLimit(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        var max = Limit(context);
        if (context.Request.ContentLength > max)
        {
            await WriteTooLargeAsync(context, max);
            return;
        }

        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = max;
        }

        await next(context);
        if (context.Response.StatusCode == StatusCodes.Status413PayloadTooLarge && !context.Response.HasStarted)
        {
            await WriteTooLargeAsync(context, max);
        }
    });

    /// <summary>The body limit of the request's endpoint.</summary>
    public static long Limit(HttpContext context) => context.GetEndpoint()?.Metadata.GetMetadata<ArchiveBody>() is null
        ? MaxBytes
        : context.RequestServices.GetRequiredService<IOptions<ApiHostOptions>>().Value.ArchiveMaxBytes;

    /// <summary>"is larger than 256 KiB", in the largest unit that names the limit exactly.</summary>
    public static string TooLarge(long max) =>
        max % (1024L * 1024 * 1024) == 0 ? $"is larger than {max / (1024L * 1024 * 1024)} GiB"
        : max % (1024 * 1024) == 0 ? $"is larger than {max / (1024 * 1024)} MiB"
        : $"is larger than {max / 1024} KiB";

    private static Task WriteTooLargeAsync(HttpContext context, long max) => ApiProblems.Invalid("body", TooLarge(max)).ExecuteAsync(context);
}
