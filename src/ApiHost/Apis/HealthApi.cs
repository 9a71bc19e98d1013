using Microsoft.AspNetCore.Http.HttpResults;
using OrleansJobs.ApiHost.Hosting;
using OrleansJobs.ApiHost.Security;

namespace OrleansJobs.ApiHost.Apis;

/// <summary>Liveness and readiness endpoints (no authentication: load balancers call them).</summary>
public static class HealthApi
{
    public static IEndpointRouteBuilder MapHealthApi(this IEndpointRouteBuilder app)
    {
        var health = app.MapGroup("/health").WithTags("Health");
        health.MapGet("/", Live)
            .WithName("Liveness")
            .AllowAnonymous()
            .WithSummary("Liveness: the API process runs")
            .WithDescription("Answers 200 whenever the process can serve HTTP; checks no dependency.");
        health.MapGet("/ready", Ready)
            .WithName("Readiness")
            .RequireRole(ApiRoles.Reader)
            .WithSummary("Readiness: database reachable and at least one silo active")
            .WithDescription("200 with the report when the database answers and the cluster has an active silo; 503 with the same report otherwise.")
            .Produces<ReadinessReport>(StatusCodes.Status200OK)
            .Produces<ReadinessReport>(StatusCodes.Status503ServiceUnavailable);
        return app;
    }

    public static Ok<LivenessReport> Live(TimeProvider time) => TypedResults.Ok(new LivenessReport("Healthy", time.GetUtcNow()));

    public static async Task<JsonHttpResult<ReadinessReport>> Ready(ReadinessProbe probe, CancellationToken cancellationToken)
    {
        var report = await probe.CheckAsync(cancellationToken);
        return TypedResults.Json(report, statusCode: report.IsReady ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
    }
}

/// <summary>Body of <c>/health</c>.</summary>
public sealed record LivenessReport(string Status, DateTimeOffset CheckedAt);
