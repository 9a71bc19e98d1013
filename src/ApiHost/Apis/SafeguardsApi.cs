using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;
using OrleansJobs.ApiHost.Hosting;
using OrleansJobs.ApiHost.ReadModel;
using OrleansJobs.Jobs;
using OrleansJobs.Recovery;
using OrleansJobs.Safeguards;
using OrleansJobs.ApiHost.Security;

namespace OrleansJobs.ApiHost.Apis;

/// <summary>Jobs that need a look: stalled (the watchdog's rule), interrupted (paused by their device, or active on a silo that is gone), and the active ones by state.</summary>
public sealed record SafeguardJobCounts(long Stalled, long Interrupted, long Queued, long Running, long Paused);

/// <summary>A resource held by a job, as the job index shows it: a library's lock or a device.</summary>
public sealed record ResourceHolder(string Resource, string Id, string Job, JobStatus Status);

/// <summary>
/// One answer to "is the system healthy?": readiness (database, silos), job counts that need a look, who holds which
/// library and device, the last recovery sweep, retention run and emergency cleanup (null when none ran since
/// their grain was activated, or when its silo did not answer in time), and the state validator's last run and totals
/// by kind (null when its silo did not answer in time).
/// </summary>
public sealed record SafeguardsStatus(
    ReadinessReport Readiness, SafeguardJobCounts Jobs, IReadOnlyList<ResourceHolder> Holders,
    RecoveryRun? LastRecovery, PurgeRun? LastRetention, EmergencyCleanupRun? LastEmergencyCleanup, ValidatorStatus? Validator);

/// <summary>The safeguards at a glance.</summary>
public static class SafeguardsApi
{
    private const string CountsSql = $"""
        SELECT
            count(*) FILTER (WHERE {StalledJobs.Condition}),
            count(*) FILTER (WHERE j.interruption IS NOT NULL OR (j.owner_silo IS NOT NULL AND NOT (j.owner_silo = ANY(@active_silos)))),
            count(*) FILTER (WHERE j.status = 'Queued'),
            count(*) FILTER (WHERE j.status IN ({JobStatusSql.Running})),
            count(*) FILTER (WHERE j.status = 'Paused')
        FROM job_index j
        WHERE j.status IN ({JobStatusSql.Active})
        """;

    private const string HoldersSql = $"""
        SELECT 'library', j.library_id, j.job_id, j.status FROM job_index j WHERE j.library_id IS NOT NULL AND j.status IN ({JobStatusSql.Running})
        UNION ALL
        SELECT 'device', j.device_id, j.job_id, j.status FROM job_index j
        WHERE j.device_id IS NOT NULL AND (j.status IN ({JobStatusSql.Running}) OR j.status = 'Paused')
        ORDER BY 1, 2 LIMIT 1000
        """;

    public static IEndpointRouteBuilder MapSafeguardsApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/admin/safeguards/status", Status)
            .WithTags("Admin")
            .WithName("GetSafeguardsStatus")
            .RequireRole(ApiRoles.Admin)
            .WithSummary("Is the system healthy: readiness, jobs that need a look, lock and device holders, the last recovery, retention, emergency cleanup and state validation")
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        return app;
    }

    public static async Task<Ok<SafeguardsStatus>> Status(
        ReadinessProbe probe, NpgsqlDataSource database, IClusterClient cluster, ClusterView view, IOptions<ApiHostOptions> options, CancellationToken cancellationToken)
    {
        var budget = options.Value.LiveReadTimeout;
        var recovery = LiveCalls.WithinAsync(cluster.GetGrain<IRecoveryGrain>(IRecoveryGrain.ClusterKey).GetLastRunAsync(), budget, cancellationToken);
        var retention = LiveCalls.WithinAsync(cluster.GetGrain<IRetentionGrain>(0).GetLastRunAsync(), budget, cancellationToken);
        var cleanup = LiveCalls.WithinAsync(cluster.GetGrain<IEmergencyCleanupGrain>(0).GetLastRunAsync(), budget, cancellationToken);
        var validator = LiveCalls.WithinAsync(cluster.GetGrain<IStateValidatorGrain>(0).GetStatusAsync(), budget, cancellationToken);
        var readiness = probe.CheckAsync(cancellationToken);

        SafeguardJobCounts counts;
        await using (var command = database.CreateCommand(CountsSql))
        {
            StalledJobs.AddParameters(command, await view.JobTypesAsync());
            command.Parameters.Add(new NpgsqlParameter("active_silos", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = await view.ActiveSilosAsync(cancellationToken) });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            counts = new SafeguardJobCounts(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4));
        }

        var holders = new List<ResourceHolder>();
        await using (var command = database.CreateCommand(HoldersSql))
        {
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                holders.Add(new ResourceHolder(reader.GetString(0), reader.GetString(1), reader.GetString(2), Enum.Parse<JobStatus>(reader.GetString(3))));
            }
        }

        return TypedResults.Ok(new SafeguardsStatus(await readiness, counts, holders, (await recovery).Value, (await retention).Value, (await cleanup).Value,
            (await validator).Value));
    }
}
