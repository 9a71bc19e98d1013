using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;
using OrleansJobs.Hosting;
using OrleansJobs.Jobs;

namespace OrleansJobs.Safeguards;

/// <summary>
/// Purges finished jobs a batch at a time, in the order they finished: the job index names the
/// candidates, each job's grain deletes itself (state, index row, journal, file operations) and
/// refuses if it is no longer finished. A batch's keyset moves on past every candidate, deleted or
/// not, so a job that cannot be reached never holds the run up; the next run tries it again.
/// </summary>
public sealed partial class RetentionGrain(
    IGrainFactory grains, NpgsqlDataSource dataSource, IOptions<RetentionOptions> options, TimeProvider time, ILogger<RetentionGrain> logger)
    : Grain, IRetentionGrain, IDisposable
{
    private const int SampleSize = 100;

    private readonly SemaphoreSlim _running = new(1, 1);
    private PurgeRun? _last;

    public void Dispose() => _running.Dispose();

    public Task<PurgeRun?> GetLastRunAsync() => Task.FromResult(_last);

    public async Task<PurgeRun> RunAsync(PurgeRequest request)
    {
        await _running.WaitAsync();
        try
        {
            var run = await PurgeAsync(request);
            if (request.Filter is null)
            {
                _last = run;
            }

            LogRun(logger, request.Reason, request.DryRun, run.Candidates, run.Purged, run.Skipped, run.Failed);
            return run;
        }
        catch (NpgsqlException ex)
        {
            throw new DatabaseUnavailableException($"the purge could not read the job index: {ex.Message}");
        }
        finally
        {
            _running.Release();
        }
    }

    private async Task<PurgeRun> PurgeAsync(PurgeRequest request)
    {
        var started = time.GetUtcNow();
        var settings = options.Value;
        var limit = request.Filter?.Limit ?? int.MaxValue;
        var (candidates, purged, skipped, failed) = (0, 0, 0, 0);
        var sample = new List<string>();
        var pace = request.Filter is null && settings.MaxJobsPerSecond is > 0 and var rate ? new Pace(rate, time) : null;
        (DateTimeOffset At, string Id)? after = null;
        while (candidates < limit)
        {
            var batch = await CandidatesAsync(request.Filter, started, after, Math.Min(settings.BatchSize, limit - candidates));
            if (batch.Count == 0)
            {
                break;
            }

            after = batch[^1];
            candidates += batch.Count;
            sample.AddRange(batch.Take(SampleSize - sample.Count).Select(c => c.Id));
            if (request.DryRun)
            {
                continue;
            }

            var outcomes = new List<JobPurgeOutcome?>();
            await Parallel.ForEachAsync(batch, new ParallelOptions { MaxDegreeOfParallelism = settings.Parallelism }, async (candidate, _) =>
            {
                if (pace is not null)
                {
                    await pace.NextAsync();
                }

                var outcome = await PurgeOneAsync(candidate.Id, request.Actor);
                lock (outcomes)
                {
                    outcomes.Add(outcome);
                }
            });
            purged += outcomes.Count(o => o is JobPurgeOutcome.Purged or JobPurgeOutcome.NotFound);
            skipped += outcomes.Count(o => o == JobPurgeOutcome.Active);
            failed += outcomes.Count(o => o is null);
        }

        return new PurgeRun(request.Reason, request.DryRun, started, time.GetUtcNow(), candidates, purged, skipped, failed, sample);
    }

    private async Task<JobPurgeOutcome?> PurgeOneAsync(string jobId, string actor)
    {
        try
        {
            // The factory from the container: these calls run on the thread pool, off the grain's turn.
            return await grains.GetGrain<IJobGrain>(jobId).PurgeAsync(actor);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            LogPurgeFailed(logger, ex, jobId);
            return null;
        }
    }

    /// <summary>The next finished jobs after <paramref name="after"/> that the policy or the filter takes, in the order they finished.</summary>
    private async Task<List<(DateTimeOffset At, string Id)>> CandidatesAsync(
        PurgeFilter? filter, DateTimeOffset now, (DateTimeOffset At, string Id)? after, int batch)
    {
        var settings = options.Value;
        var sql = new StringBuilder($"""
            SELECT j.finished_at, j.job_id FROM job_index j
            WHERE j.status IN ({JobStatusSql.Terminal}) AND j.finished_at IS NOT NULL
              AND (@after_id::text IS NULL OR (j.finished_at, j.job_id) > (@after_at, @after_id))
            """);
        await using var command = dataSource.CreateCommand();
        command.Parameters.AddWithValue("after_at", NpgsqlDbType.TimestampTz, (object?)after?.At ?? DBNull.Value);
        command.Parameters.AddWithValue("after_id", NpgsqlDbType.Text, (object?)after?.Id ?? DBNull.Value);
        if (filter is null)
        {
            // Older than the retention, or beyond the newest MaxPastJobsPerType of its type.
            sql.Append(" AND (j.finished_at < @cutoff");
            command.Parameters.AddWithValue("cutoff", now - settings.Retention);
            if (settings.MaxPastJobsPerType is { } max)
            {
                sql.Append($"""
                     OR j.job_id IN (SELECT r.job_id FROM (SELECT k.job_id, row_number() OVER (PARTITION BY k.job_type ORDER BY k.finished_at DESC, k.job_id DESC) AS rank
                        FROM job_index k WHERE k.status IN ({JobStatusSql.Terminal}) AND k.finished_at IS NOT NULL) r WHERE r.rank > @max)
                    """);
                command.Parameters.AddWithValue("max", max);
            }

            sql.Append(')');
        }
        else
        {
            if (filter.Ids is { Count: > 0 } ids)
            {
                sql.Append(" AND j.job_id = ANY(@ids)");
                command.Parameters.AddWithValue("ids", ids.ToArray());
            }

            if (filter.Statuses is { Count: > 0 } statuses)
            {
                sql.Append(" AND j.status = ANY(@statuses)");
                command.Parameters.AddWithValue("statuses", statuses.Select(s => s.ToString()).ToArray());
            }

            if (filter.Type is { } type)
            {
                sql.Append(" AND j.job_type = @type");
                command.Parameters.AddWithValue("type", type);
            }

            if (filter.FinishedBefore is { } before)
            {
                sql.Append(" AND j.finished_at < @before");
                command.Parameters.AddWithValue("before", before);
            }
        }

        sql.Append(" ORDER BY j.finished_at, j.job_id LIMIT @batch");
        command.Parameters.AddWithValue("batch", batch);
        command.CommandText = sql.ToString();
        var rows = new List<(DateTimeOffset, string)>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            rows.Add((reader.GetFieldValue<DateTimeOffset>(0), reader.GetString(1)));
        }

        return rows;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Purge ({Reason}, dry run: {DryRun}): {Candidates} finished jobs found, {Purged} deleted, {Skipped} no longer finished, {Failed} not reached")]
    private static partial void LogRun(ILogger logger, string reason, bool dryRun, int candidates, int purged, int skipped, int failed);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Purge: job {JobId} could not be reached; the next run tries it again")]
    private static partial void LogPurgeFailed(ILogger logger, Exception exception, string jobId);

    /// <summary>
    /// Spaces the deletions evenly at <c>rate</c> per second: each waits for its turn, one turn after the
    /// previous one, and no credit builds up while the run waits for its next batch (no burst after a pause).
    /// </summary>
    private sealed class Pace(int rate, TimeProvider time)
    {
        private readonly TimeSpan _interval = TimeSpan.FromSeconds(1.0 / rate);
        private readonly Lock _lock = new();
        private DateTimeOffset _next = DateTimeOffset.MinValue;

        public Task NextAsync()
        {
            var now = time.GetUtcNow();
            DateTimeOffset turn;
            lock (_lock)
            {
                turn = _next > now ? _next : now;
                _next = turn + _interval;
            }

            return turn > now ? Task.Delay(turn - now, time) : Task.CompletedTask;
        }
    }
}
