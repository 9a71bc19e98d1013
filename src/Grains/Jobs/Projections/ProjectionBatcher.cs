using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using OrleansJobs.Events;
using OrleansJobs.Hosting;
using OrleansJobs.Membership;

namespace OrleansJobs.Jobs.Projections;

/// <summary>Tuning of the per-silo projection batcher (configuration section <c>Projections</c>).</summary>
public sealed class ProjectionBatcherOptions
{
    /// <summary>Most index rows plus journal entries written in one round trip.</summary>
    public int MaxBatchItems { get; set; } = 2000;

    /// <summary>First delay after a failed write; doubles up to <see cref="MaxRetryDelay"/>.</summary>
    public TimeSpan MinRetryDelay { get; set; } = TimeSpan.FromMilliseconds(100);

    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromSeconds(5);
}

/// <summary>Counters of a batcher, for benchmarks and the dashboard.</summary>
public readonly record struct ProjectionBatcherStats(long Requests, long Batches, long FailedWrites, long RejectedRequests);

/// <summary>
/// The silo's single writer of job projections. Job grains hand it their index row and new
/// journal entries after each durable state change and carry on; it writes whatever has
/// accumulated in one round trip. There is no artificial wait: a lone request is written at
/// once, and under load requests pile up while a write is in flight, so batches grow with load.
/// The entries stay in the grain's outbox until written, so a lost request (silo crash) is
/// re-sent by the grain, and re-sending is harmless (see <see cref="ProjectionWriter"/>).
/// A silo declared dead writes nothing more: the jobs' new silos send what is left from the outboxes.
/// </summary>
public sealed class ProjectionBatcher(
    ProjectionWriter writer, IOptions<ProjectionBatcherOptions> options, ILogger<ProjectionBatcher> logger, SiloLiveness? liveness = null,
    JobEventPublisher? events = null)
    : BackgroundService
{
    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });
    private long _requests;
    private long _batches;
    private long _failedWrites;
    private long _rejected;

    public ProjectionBatcherStats Stats => new(
        Interlocked.Read(ref _requests), Interlocked.Read(ref _batches), Interlocked.Read(ref _failedWrites), Interlocked.Read(ref _rejected));

    /// <summary>
    /// Queues a projection; the task completes when it is durable in the read model. Entries with a seq up to
    /// <paramref name="maybeStoredThrough"/> may be in the journal already and are checked first (by default all are).
    /// </summary>
    public Task WriteAsync(JobIndexRow? row, IReadOnlyList<JobJournalEntry> entries, long maybeStoredThrough = long.MaxValue)
    {
        var pending = new Pending(row, entries, maybeStoredThrough, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        Interlocked.Increment(ref _requests);
        if (!_queue.Writer.TryWrite(pending))
        {
            pending.Done.SetException(new InvalidOperationException("The projection batcher has stopped"));
        }

        return pending.Done.Task;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var batch = new List<Pending>();
        try
        {
            while (await _queue.Reader.WaitToReadAsync(stoppingToken))
            {
                var items = 0;
                while (items < options.Value.MaxBatchItems && _queue.Reader.TryRead(out var pending))
                {
                    batch.Add(pending);
                    items += pending.Size;
                }

                try
                {
                    if (liveness is not null)
                    {
                        await liveness.EnsureAliveAsync(stoppingToken);
                    }

                    await WriteWithRetryAsync(batch, stoppingToken);
                }
                catch (SiloDeclaredDeadException dead)
                {
                    foreach (var pending in batch)
                    {
                        pending.Done.TrySetException(dead);
                    }
                }

                batch.Clear();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down: what is not written stays in the grains' outboxes.
        }
        finally
        {
            _queue.Writer.TryComplete();
            var stopped = new OperationCanceledException("The silo is stopping; the projection stays in the job's outbox");
            foreach (var pending in batch)
            {
                pending.Done.TrySetException(stopped);
            }

            while (_queue.Reader.TryRead(out var left))
            {
                left.Done.TrySetException(stopped);
            }
        }
    }

    // retried: a write of these failed before. It may have failed after its commit, so every entry may be stored.
    private async Task WriteWithRetryAsync(List<Pending> batch, CancellationToken stoppingToken, bool retried = false)
    {
        var delay = options.Value.MinRetryDelay;
        while (true)
        {
            try
            {
                await WriteBatchAsync(batch, retried, stoppingToken);
                foreach (var pending in batch)
                {
                    pending.Done.TrySetResult();
                }

                return;
            }
            catch (PostgresException ex) when (IsBadData(ex))
            {
                // Something in the batch is invalid: write one by one so only the culprit fails.
                Interlocked.Increment(ref _failedWrites);
                logger.LogWarning(ex, "Projection batch of {Count} rejected ({SqlState}); writing its requests one by one", batch.Count, ex.SqlState);
                await WriteOneByOneAsync(batch, retried, stoppingToken);
                return;
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException && !stoppingToken.IsCancellationRequested)
            {
                Interlocked.Increment(ref _failedWrites);
                logger.LogWarning("Projection write failed ({Message}); retrying in {Delay} ms", ex.Message, delay.TotalMilliseconds);
                await Task.Delay(delay, stoppingToken);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, options.Value.MaxRetryDelay.Ticks));
                retried = true;
            }
        }
    }

    private async Task WriteOneByOneAsync(List<Pending> batch, bool checkAll, CancellationToken stoppingToken)
    {
        foreach (var pending in batch)
        {
            var single = new List<Pending> { pending };
            try
            {
                await WriteBatchAsync(single, checkAll, stoppingToken);
                pending.Done.TrySetResult();
            }
            catch (PostgresException ex) when (IsBadData(ex))
            {
                Interlocked.Increment(ref _rejected);
                logger.LogError(ex, "Projection of job {JobId} rejected by the database", pending.JobId);
                pending.Done.TrySetException(ex);
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException && !stoppingToken.IsCancellationRequested)
            {
                // The database went away meanwhile: back to retrying this one.
                await WriteWithRetryAsync(single, stoppingToken, retried: true);
            }
        }
    }

    private async Task WriteBatchAsync(List<Pending> batch, bool checkAll, CancellationToken stoppingToken)
    {
        var rows = batch.Where(p => p.Row is not null).Select(p => p.Row!).ToList();
        var entries = new List<JobJournalEntry>();
        var maybeStored = new List<bool>();
        foreach (var pending in batch)
        {
            foreach (var entry in pending.Entries)
            {
                entries.Add(entry);
                maybeStored.Add(checkAll || entry.Seq <= pending.MaybeStoredThrough);
            }
        }

        var written = await writer.WriteReturningAsync(rows, entries, maybeStored, stoppingToken);
        Interlocked.Increment(ref _batches);
        // Committed: now the new entries may be seen live (docs/events.md).
        events?.PublishJournal(rows, entries, written.Inserted);
    }

    /// <summary>Class 22 (data exception) and 23 (integrity): retrying the same data cannot help.</summary>
    private static bool IsBadData(PostgresException ex) => ex.SqlState.StartsWith("22", StringComparison.Ordinal) || ex.SqlState.StartsWith("23", StringComparison.Ordinal);

    private sealed record Pending(JobIndexRow? Row, IReadOnlyList<JobJournalEntry> Entries, long MaybeStoredThrough, TaskCompletionSource Done)
    {
        public int Size => (Row is null ? 0 : 1) + Entries.Count;

        public string JobId => Row?.JobId ?? (Entries.Count > 0 ? Entries[0].JobId : "?");
    }
}
