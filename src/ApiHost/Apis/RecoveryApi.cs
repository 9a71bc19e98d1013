using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Npgsql;
using OrleansJobs.ApiHost.Hosting;
using OrleansJobs.ApiHost.ReadModel;
using OrleansJobs.Jobs;
using OrleansJobs.Recovery;
using OrleansJobs.ApiHost.Security;

namespace OrleansJobs.ApiHost.Apis;

/// <summary>Jobs by state, as the index shows them, and the cluster's last recovery sweep.</summary>
/// <param name="Stalled">Running jobs without progress for their type's stall timeout (the same jobs as <c>GET /api/jobs?stuck=true</c>).</param>
/// <param name="Queued">Jobs waiting for a slot, a retry or their start time.</param>
/// <param name="Running">Running jobs, and those finishing their item on the way to Cancelled or Paused.</param>
/// <param name="Paused">Paused jobs, including those the watchdog paused for investigation.</param>
/// <param name="LastRecoveryRun">The last sweep, or null when none ran since the recovery grain was activated, or when its silo did not answer in time.</param>
/// <param name="LastRecoveryRunUnreachable">True when the silo of the recovery grain did not answer in time (it is gone and the grain moves to a live silo): LastRecoveryRun is then null.</param>
public sealed record RecoveryStatus(long Stalled, long Queued, long Running, long Paused, RecoveryRun? LastRecoveryRun, bool LastRecoveryRunUnreachable);

/// <summary>Recovery of jobs whose silo is gone: status and an on-demand sweep.</summary>
public static class RecoveryApi
{
    private const string CountsSql = $"""
        SELECT
            count(*) FILTER (WHERE {StalledJobs.Condition}),
            count(*) FILTER (WHERE j.status = 'Queued'),
            count(*) FILTER (WHERE j.status IN ({JobStatusSql.Running})),
            count(*) FILTER (WHERE j.status = 'Paused')
        FROM job_index j
        WHERE j.status IN ({JobStatusSql.Active})
        """;

    public static IEndpointRouteBuilder MapRecoveryApi(this IEndpointRouteBuilder app)
    {
        var recovery = app.MapGroup("/api/recovery").WithTags("Recovery");
        recovery.MapGet("/status", Status)
            .WithName("GetRecoveryStatus")
            .RequireRole(ApiRoles.Reader)
            .WithSummary("Counts of stalled, queued, running and paused jobs, and the last recovery sweep")
            .WithDescription("Counts come from the job index (at most one checkpoint behind the live jobs). Sweeps run when a silo starts, " +
                "when a member is declared dead, every Watchdog:RecoveryInterval, and on POST /api/recovery/trigger.")
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        recovery.MapPost("/trigger", Trigger)
            .WithName("TriggerRecovery")
            .RequireRole(ApiRoles.Admin)
            .WithSummary("Run the recovery sweep now")
            .WithDescription("Finds the jobs that were running or waiting on a silo that is no longer an active member and wakes each on a " +
                "live silo, where it resumes from its checkpoint. recovered: jobs that resumed; failed: jobs that could not be reached " +
                "(the next sweep tries them again).")
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        return app;
    }

    public static async Task<Ok<RecoveryStatus>> Status(
        NpgsqlDataSource dataSource, IClusterClient cluster, ClusterView view, IOptions<ApiHostOptions> options, CancellationToken cancellationToken)
    {
        // Both grain answers are awaited at once, each for at most the live read budget.
        var last = LiveCalls.WithinAsync(
            cluster.GetGrain<IRecoveryGrain>(IRecoveryGrain.ClusterKey).GetLastRunAsync(), options.Value.LiveReadTimeout, cancellationToken);
        await using var command = dataSource.CreateCommand(CountsSql);
        StalledJobs.AddParameters(command, await view.JobTypesAsync());
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        var counts = (Stalled: reader.GetInt64(0), Queued: reader.GetInt64(1), Running: reader.GetInt64(2), Paused: reader.GetInt64(3));
        var (answered, run) = await last;
        return TypedResults.Ok(new RecoveryStatus(counts.Stalled, counts.Queued, counts.Running, counts.Paused, run, !answered));
    }

    public static async Task<Ok<RecoveryRun>> Trigger(HttpContext http, IClusterClient cluster)
    {
        var run = await cluster.GetGrain<IRecoveryGrain>(IRecoveryGrain.ClusterKey)
            .TriggerAsync($"requested through the API by {http.Connection.RemoteIpAddress}");
        return TypedResults.Ok(run);
    }
}
