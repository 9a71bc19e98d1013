using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using OrleansJobs.Jobs;
using OrleansJobs.Jobs.Handlers;
using OrleansJobs.Jobs.Resources;
using OrleansJobs.Jobs.Watchdog;

namespace OrleansJobs.Recovery;

/// <summary>
/// Finds the jobs that were running or waiting on a silo that is no longer an active member and
/// wakes each one: the call activates it on a live silo, where it resumes from its checkpoint.
/// The jobs are found in <c>grain_state.watched_by</c>, written in the same statement as each
/// job's state, so a job is found even when its silo died before its index row was written.
/// </summary>
public sealed partial class RecoverySweep(
    NpgsqlDataSource dataSource,
    IClusterMembershipService membership,
    IGrainFactory grains,
    ILocalSiloDetails silo,
    IOptions<WatchdogOptions> options,
    JobHandlerRegistry registry,
    TimeProvider time,
    ILogger<RecoverySweep> logger)
{
    /// <summary>State name of job grains in the job store.</summary>
    public const string JobStateName = StoredJob.StateName;

    private static readonly TimeSpan WakeTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan MembershipRefreshTimeout = TimeSpan.FromSeconds(5);

    private const string CandidatesSql = """
        SELECT grain_id, watched_by FROM grain_state
        WHERE watched_by IS NOT NULL AND state_name = @state_name AND NOT (watched_by = ANY(@alive))
        """;

    // Index rows of active jobs that are behind the job's state although the state was written a
    // while ago: the silo died between the state's commit and the projection's. The job's outbox
    // still holds what is missing; activating the job writes it again (duplicates are ignored).
    private const string StaleIndexSql = $"""
        SELECT j.job_id FROM job_index j
        JOIN grain_state g ON g.grain_id = 'job/' || j.job_id AND g.state_name = @state_name
        WHERE j.status IN ({JobStatusSql.Active})
          AND g.modified_on < now() - @settle
          AND (convert_from(g.payload, 'UTF8')::jsonb ->> 'Version')::bigint > j.state_version
        """;

    /// <summary>How long a projection may take before the sweep calls its index row stale.</summary>
    private static readonly TimeSpan ProjectionSettle = TimeSpan.FromSeconds(10);

    public async Task<RecoveryRun> RunAsync(string reason, long membershipVersion, CancellationToken cancellationToken)
    {
        var started = time.GetUtcNow();
        // This silo's view may trail the caller's (which saw the death) or the table: catch up first, or a
        // dead silo would pass for alive and its jobs would wait for the next periodic sweep.
        try
        {
            await membership.Refresh(new MembershipVersion(membershipVersion), cancellationToken).AsTask().WaitAsync(MembershipRefreshTimeout, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException and not OutOfMemoryException)
        {
            // The table cannot be read (database away): go on with what this silo knows; a later sweep catches up.
            LogMembershipNotRefreshed(logger, ex.GetType().Name, ex.Message);
        }

        var candidates = await FindJobsOfGoneSilosAsync(dataSource, membership, cancellationToken);

        var stale = new List<string>();
        await using (var command = dataSource.CreateCommand(StaleIndexSql))
        {
            command.Parameters.AddWithValue("state_name", JobStateName);
            command.Parameters.AddWithValue("settle", ProjectionSettle);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                stale.Add(reader.GetString(0));
            }
        }

        var known = candidates.Select(c => c.JobId).ToHashSet(StringComparer.Ordinal);
        var repairs = stale.Where(known.Add).Select(id => (JobId: id, Silo: "index")).ToList();
        var recovered = 0;
        var failed = 0;
        await Parallel.ForEachAsync(
            candidates.Concat(repairs),
            new ParallelOptions { MaxDegreeOfParallelism = options.Value.SweepParallelism, CancellationToken = cancellationToken },
            async (candidate, token) =>
            {
                try
                {
                    if (await grains.GetGrain<IRecoverableJob>(candidate.JobId).WakeAsync(reason).WaitAsync(WakeTimeout, token))
                    {
                        Interlocked.Increment(ref recovered);
                    }
                }
                catch (Exception ex) when (ex is not OutOfMemoryException && !token.IsCancellationRequested)
                {
                    Interlocked.Increment(ref failed);
                    LogWakeFailed(logger, ex, candidate.JobId, candidate.Silo);
                }
            });

        await TouchRunSlotsAsync(cancellationToken);
        var gone = candidates.Select(c => c.Silo).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var run = new RecoveryRun(
            reason, started, time.GetUtcNow(), candidates.Count, recovered, failed, gone, silo.SiloAddress.ToParsableString(), repairs.Count);
        if (candidates.Count + repairs.Count > 0)
        {
            LogSweep(logger, reason, candidates.Count, recovered, failed, string.Join(", ", gone), repairs.Count);
        }

        return run;
    }

    /// <summary>The jobs running or waiting on a silo that is not an active member in this silo's view: (job id, that silo).</summary>
    public static async Task<List<(string JobId, string Silo)>> FindJobsOfGoneSilosAsync(
        NpgsqlDataSource dataSource, IClusterMembershipService membership, CancellationToken cancellationToken)
    {
        var alive = membership.CurrentSnapshot.Members.Values
            .Where(m => m.Status == SiloStatus.Active)
            .Select(m => m.SiloAddress.ToParsableString())
            .ToArray();

        var candidates = new List<(string JobId, string Silo)>();
        await using var command = dataSource.CreateCommand(CandidatesSql);
        command.Parameters.AddWithValue("state_name", JobStateName);
        command.Parameters.Add(new NpgsqlParameter<string[]>("alive", alive));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            candidates.Add((GrainId.Parse(reader.GetString(0), System.Globalization.CultureInfo.InvariantCulture).Key.ToString()!, reader.GetString(1)));
        }

        return candidates;
    }

    /// <summary>
    /// Calls the run slots of every registered type. Waiting jobs never re-ask: a slots grain that lost
    /// its activation with a silo, and that nothing else calls, is activated here and reads its running
    /// and waiting jobs from the job index.
    /// </summary>
    private Task TouchRunSlotsAsync(CancellationToken cancellationToken) => Task.WhenAll(registry.Names.Select(async type =>
    {
        try
        {
            await grains.GetGrain<IRunSlotsGrain>(type).GetStatsAsync().WaitAsync(WakeTimeout, cancellationToken);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException && !cancellationToken.IsCancellationRequested)
        {
            LogSlotsUnreachable(logger, type, ex.GetType().Name);
        }
    }));

    [LoggerMessage(Level = LogLevel.Warning, Message = "Recovery sweep could not reach the run slots of type {Type} ({Error}); the next sweep tries again")]
    private static partial void LogSlotsUnreachable(ILogger logger, string type, string error);

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Recovery sweep ({Reason}): {Candidates} job(s) of silos no longer active ({Silos}); {Recovered} resumed, {Failed} unreachable; {Repaired} stale index row(s) rewritten")]
    private static partial void LogSweep(ILogger logger, string reason, int candidates, int recovered, int failed, string silos, int repaired);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Recovery sweep: the membership table could not be read ({Error}: {Message}); sweeping with this silo's view")]
    private static partial void LogMembershipNotRefreshed(ILogger logger, string error, string message);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Recovery sweep could not wake job {JobId} (left on {Silo}); the next sweep tries again")]
    private static partial void LogWakeFailed(ILogger logger, Exception exception, string jobId, string silo);
}
