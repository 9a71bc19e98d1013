using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using OrleansJobs.Jobs;
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
    TimeProvider time,
    ILogger<RecoverySweep> logger)
{
    /// <summary>State name of job grains in the job store.</summary>
    public const string JobStateName = "job";

    private static readonly TimeSpan WakeTimeout = TimeSpan.FromSeconds(30);

    private const string CandidatesSql = """
        SELECT grain_id, watched_by FROM grain_state
        WHERE watched_by IS NOT NULL AND state_name = @state_name AND NOT (watched_by = ANY(@alive))
        """;

    public async Task<RecoveryRun> RunAsync(string reason, CancellationToken cancellationToken)
    {
        var started = time.GetUtcNow();
        var alive = membership.CurrentSnapshot.Members.Values
            .Where(m => m.Status == SiloStatus.Active)
            .Select(m => m.SiloAddress.ToParsableString())
            .ToArray();

        var candidates = new List<(string JobId, string Silo)>();
        await using (var command = dataSource.CreateCommand(CandidatesSql))
        {
            command.Parameters.AddWithValue("state_name", JobStateName);
            command.Parameters.Add(new NpgsqlParameter<string[]>("alive", alive));
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                candidates.Add((GrainId.Parse(reader.GetString(0), System.Globalization.CultureInfo.InvariantCulture).Key.ToString()!, reader.GetString(1)));
            }
        }

        var recovered = 0;
        var failed = 0;
        await Parallel.ForEachAsync(
            candidates,
            new ParallelOptions { MaxDegreeOfParallelism = options.Value.SweepParallelism, CancellationToken = cancellationToken },
            async (candidate, token) =>
            {
                try
                {
                    if (await grains.GetGrain<IJobRun>(candidate.JobId).WakeAsync(reason).WaitAsync(WakeTimeout, token))
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

        var gone = candidates.Select(c => c.Silo).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var run = new RecoveryRun(reason, started, time.GetUtcNow(), candidates.Count, recovered, failed, gone, silo.SiloAddress.ToParsableString());
        if (candidates.Count > 0)
        {
            LogSweep(logger, reason, candidates.Count, recovered, failed, string.Join(", ", gone));
        }

        return run;
    }

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Recovery sweep ({Reason}): {Candidates} job(s) of silos no longer active ({Silos}); {Recovered} resumed here, {Failed} unreachable")]
    private static partial void LogSweep(ILogger logger, string reason, int candidates, int recovered, int failed, string silos);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Recovery sweep could not wake job {JobId} (left on {Silo}); the next sweep tries again")]
    private static partial void LogWakeFailed(ILogger logger, Exception exception, string jobId, string silo);
}
