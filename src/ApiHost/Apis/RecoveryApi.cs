using Microsoft.Extensions.Options;
using Npgsql;
using OrleansJobs.ApiHost.Hosting;
using OrleansJobs.Recovery;

namespace OrleansJobs.ApiHost.Apis;

/// <summary>Jobs by state, as the index shows them, and the cluster's last recovery sweep.</summary>
/// <param name="Stalled">Running jobs without progress for <c>Api:StuckAfter</c> (the same jobs as <c>GET /api/jobs?stuck=true</c>).</param>
/// <param name="Queued">Jobs waiting for a slot, a retry or their start time.</param>
/// <param name="Running">Running or cancelling jobs.</param>
/// <param name="Paused">Paused jobs, including those the watchdog paused for investigation.</param>
/// <param name="LastRecoveryRun">The last sweep, or null when none ran since the recovery grain was activated.</param>
public sealed record RecoveryStatus(long Stalled, long Queued, long Running, long Paused, RecoveryRun? LastRecoveryRun);

/// <summary>Recovery of jobs whose silo is gone: status and an on-demand sweep.</summary>
public static class RecoveryApi
{
    private const string CountsSql = """
        SELECT
            count(*) FILTER (WHERE status IN ('Running', 'Cancelling') AND coalesce(last_progress_at, started_at) < now() - @stuck_after),
            count(*) FILTER (WHERE status = 'Queued'),
            count(*) FILTER (WHERE status IN ('Running', 'Cancelling')),
            count(*) FILTER (WHERE status = 'Paused')
        FROM job_index
        WHERE status IN ('Queued', 'Running', 'Cancelling', 'Paused')
        """;

    public static IEndpointRouteBuilder MapRecoveryApi(this IEndpointRouteBuilder app)
    {
        var recovery = app.MapGroup("/api/recovery").WithTags("Recovery");
        recovery.MapGet("/status", Status)
            .WithName("GetRecoveryStatus")
            .WithSummary("Counts of stalled, queued, running and paused jobs, and the last recovery sweep")
            .WithDescription("Counts come from the job index (at most one checkpoint behind the live jobs). Sweeps run when a silo starts, " +
                "when a member is declared dead, every Watchdog:RecoveryInterval, and on POST /api/recovery/trigger.")
            .Produces<RecoveryStatus>()
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        recovery.MapPost("/trigger", Trigger)
            .WithName("TriggerRecovery")
            .WithSummary("Run the recovery sweep now")
            .WithDescription("Finds the jobs that were running or waiting on a silo that is no longer an active member and wakes each on a " +
                "live silo, where it resumes from its checkpoint. recovered: jobs that resumed; failed: jobs that could not be reached " +
                "(the next sweep tries them again).")
            .Produces<RecoveryRun>()
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        return app;
    }

    public static async Task<IResult> Status(
        NpgsqlDataSource dataSource, IClusterClient cluster, IOptions<ApiHostOptions> options, CancellationToken cancellationToken)
    {
        var last = cluster.GetGrain<IRecoveryGrain>(IRecoveryGrain.ClusterKey).GetLastRunAsync();
        await using var command = dataSource.CreateCommand(CountsSql);
        command.Parameters.AddWithValue("stuck_after", options.Value.StuckAfter);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        var counts = (Stalled: reader.GetInt64(0), Queued: reader.GetInt64(1), Running: reader.GetInt64(2), Paused: reader.GetInt64(3));
        return TypedResults.Ok(new RecoveryStatus(counts.Stalled, counts.Queued, counts.Running, counts.Paused, await last));
    }

    public static async Task<IResult> Trigger(HttpRequest request, IClusterClient cluster)
    {
        var run = await cluster.GetGrain<IRecoveryGrain>(IRecoveryGrain.ClusterKey)
            .TriggerAsync($"requested through the API by {request.HttpContext.Connection.RemoteIpAddress}");
        return TypedResults.Ok(run);
    }
}
