using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Caching.Memory;
using OrleansJobs.Jobs;

namespace OrleansJobs.ApiHost.Security;

/// <summary>
/// What a worker key may touch: the job types and the devices it names. An admin key (and, where
/// the endpoint says so, an operator key) is not limited. Checked before anything is changed.
/// </summary>
public sealed class WorkerScope(IClusterClient cluster, IMemoryCache cache)
{
    private static readonly MemoryCacheEntryOptions Kept = new() { Size = 1, SlidingExpiration = TimeSpan.FromMinutes(10) };

    /// <summary>Null when the caller may claim jobs of all <paramref name="types"/>; otherwise the 403 to answer.</summary>
    public static ProblemHttpResult? ForTypes(ClaimsPrincipal user, IEnumerable<string> types)
    {
        if (Unlimited(user, operatorToo: false))
        {
            return null;
        }

        var allowed = Values(user, ApiKeyAuthenticationHandler.JobTypeClaim);
        var outside = types.Where(t => !allowed.Contains(t)).ToList();
        return outside.Count == 0 ? null
            : Refused($"This worker key may not work on the job type(s) {string.Join(", ", outside)}; it names {Named(allowed)}.");
    }

    /// <summary>Null when the caller may act for <paramref name="device"/> (or is an operator and <paramref name="operatorToo"/>).</summary>
    public static ProblemHttpResult? ForDevice(ClaimsPrincipal user, string device, bool operatorToo = false)
    {
        if (Unlimited(user, operatorToo))
        {
            return null;
        }

        var allowed = Values(user, ApiKeyAuthenticationHandler.DeviceClaim);
        return allowed.Contains(device) ? null
            : Refused($"This worker key may not act for the device {device}; it names {Named(allowed)}.");
    }

    /// <summary>
    /// Null when the caller may report on the job: its type or its device is named by the key. A job
    /// that does not exist answers 403 too, so a worker key cannot probe for ids.
    /// </summary>
    public async Task<ProblemHttpResult?> ForJobAsync(ClaimsPrincipal user, string jobId)
    {
        if (Unlimited(user, operatorToo: false))
        {
            return null;
        }

        if (!cache.TryGetValue(jobId, out (string Type, string? Device) job))
        {
            var snapshot = await cluster.GetGrain<IJobGrain>(jobId).GetAsync();
            if (snapshot is null)
            {
                return Refused($"This worker key may not report on job {jobId}.");
            }

            job = (snapshot.Type, snapshot.Device);
            if (job.Device is not null || snapshot.DeviceKind is null)
            {
                // A device job waiting for the pool has no device yet; everything else never changes.
                cache.Set(jobId, job, Kept);
            }
        }

        return Values(user, ApiKeyAuthenticationHandler.JobTypeClaim).Contains(job.Type)
            || (job.Device is not null && Values(user, ApiKeyAuthenticationHandler.DeviceClaim).Contains(job.Device))
            ? null
            : Refused($"This worker key may not report on job {jobId} (type {job.Type}{(job.Device is null ? "" : $", device {job.Device}")}).");
    }

    private static bool Unlimited(ClaimsPrincipal user, bool operatorToo) =>
        user.IsInRole(ApiRoles.Admin) || (operatorToo && user.IsInRole(ApiRoles.Operator));

    private static HashSet<string> Values(ClaimsPrincipal user, string claim) =>
        user.FindAll(claim).Select(c => c.Value).ToHashSet(StringComparer.Ordinal);

    private static string Named(HashSet<string> values) => values.Count == 0 ? "none" : string.Join(", ", values.Order(StringComparer.Ordinal));

    private static ProblemHttpResult Refused(string detail) => TypedResults.Problem(
        statusCode: StatusCodes.Status403Forbidden, title: "Outside this worker key's scope", detail: detail + " Nothing was changed.");
}
