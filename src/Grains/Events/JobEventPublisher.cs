using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansJobs.Jobs;
using OrleansJobs.Jobs.Projections;

namespace OrleansJobs.Events;

/// <summary>Live events as the silo publishes them (configuration section <c>Events</c> of the silo).</summary>
public sealed class JobEventPublisherOptions
{
    public const string SectionName = "Events";

    /// <summary>How often the silo reads the list of listening API hosts from <see cref="IEventHubGrain"/>.</summary>
    public TimeSpan SinkRefresh { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Least time between two progress events of one job; the newest progress goes out at the end of each interval (0: every change, at once).</summary>
    public TimeSpan ProgressInterval { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Most message events of one job per second; more are not published (the job's messages keep them).</summary>
    public int MaxMessagesPerSecond { get; set; } = 20;

    /// <summary>Events waiting to be sent; more are dropped (the API hosts read dropped journal entries from the journal).</summary>
    public int QueueCapacity { get; set; } = 100_000;

    /// <summary>Most events in one call to a host.</summary>
    public int MaxBatchEvents { get; set; } = 2_000;
}

/// <summary>
/// The silo's sender of live job events to the API hosts listening (their <see cref="IJobEventSink"/>
/// observers, listed by <see cref="IEventHubGrain"/>). Journal entries come from the projection batcher
/// once committed, progress and messages from the jobs' runs. With no host listening nothing is built
/// or queued. Each send is one one-way call per host per batch, so no host can hold up the silo.
/// </summary>
public sealed partial class JobEventPublisher(
    IGrainFactory grains, IOptions<JobEventPublisherOptions> options, TimeProvider time, ILogger<JobEventPublisher> logger) : BackgroundService
{
    private readonly Channel<JobEvent> _queue = Channel.CreateBounded<JobEvent>(
        new BoundedChannelOptions(options.Value.QueueCapacity) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });

    private readonly System.Collections.Concurrent.ConcurrentQueue<LiveJobEvents> _progressDue = new();
    private volatile IJobEventSink[] _sinks = [];
    private long _sinksVersion;
    private long _dropped;
    private long _sent;

    public JobEventPublisherOptions Options => options.Value;

    /// <summary>Whether any API host listens: the one check the hot paths make when nobody does.</summary>
    public bool HasListeners => _sinks.Length > 0;

    /// <summary>Events sent (to each host) and dropped because the queue was full.</summary>
    public (long Sent, long Dropped) Stats => (Interlocked.Read(ref _sent), Interlocked.Read(ref _dropped));

    /// <summary>Publishes the journal entries a committed projection write inserted, in event id order.</summary>
    public void PublishJournal(IReadOnlyList<JobIndexRow> rows, IReadOnlyList<JobJournalEntry> entries, IReadOnlyList<InsertedEntry> inserted)
    {
        if (!HasListeners || inserted.Count == 0)
        {
            return;
        }

        var committedAt = time.GetUtcNow();
        var byKey = new Dictionary<(string, long), JobJournalEntry>(entries.Count);
        foreach (var entry in entries)
        {
            byKey.TryAdd((entry.JobId, entry.Seq), entry);
        }

        var jobs = new Dictionary<string, JobIndexRow>(StringComparer.Ordinal);
        foreach (var row in rows)
        {
            if (!jobs.TryGetValue(row.JobId, out var known) || known.StateVersion < row.StateVersion)
            {
                jobs[row.JobId] = row;
            }
        }

        // The status a job shows at each entry: the last transition before it in this batch, else the job's newest.
        var statusNow = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var done in inserted.OrderBy(i => i.EventId))
        {
            // Entries written without their job's row (an archive import) are not published: hosts find them in the journal.
            if (!byKey.TryGetValue((done.JobId, done.Seq), out var entry) || !jobs.TryGetValue(done.JobId, out var job))
            {
                continue;
            }

            var status = entry.To?.ToString() ?? statusNow.GetValueOrDefault(done.JobId) ?? job.Status.ToString();
            if (entry.To is { } to)
            {
                statusNow[done.JobId] = to.ToString();
            }

            Enqueue(new JobEvent(done.EventId, JobEvent.JournalKind, done.JobId, job.JobType, status, job.LibraryId, job.DeviceId, entry.At)
            {
                Entry = entry,
                CommittedAt = committedAt,
            });
        }
    }

    /// <summary>Publishes an event without an id (progress, a message).</summary>
    public void Publish(JobEvent live)
    {
        if (HasListeners)
        {
            Enqueue(live);
        }
    }

    /// <summary>Publishes the job's newest progress at the end of the current interval (<see cref="LiveJobEvents.FlushProgress"/>).</summary>
    internal void FlushProgressLater(LiveJobEvents job) => _progressDue.Enqueue(job);

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(RefreshSinksAsync(stoppingToken), SendAsync(stoppingToken), FlushProgressAsync(stoppingToken));

    private async Task FlushProgressAsync(CancellationToken stoppingToken)
    {
        if (options.Value.ProgressInterval <= TimeSpan.Zero)
        {
            return; // progress goes out at once
        }

        using var timer = new PeriodicTimer(options.Value.ProgressInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                // Those queued before this tick; a job queued meanwhile waits for the next.
                for (var due = _progressDue.Count; due > 0 && _progressDue.TryDequeue(out var job); due--)
                {
                    job.FlushProgress();
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // The silo stops.
        }
    }

    private void Enqueue(JobEvent live)
    {
        if (!_queue.Writer.TryWrite(live))
        {
            Interlocked.Increment(ref _dropped);
        }
    }

    private async Task RefreshSinksAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.SinkRefresh, time);
        var hub = grains.GetGrain<IEventHubGrain>(0);
        try
        {
            do
            {
                try
                {
                    var sinks = await hub.GetSinksAsync(_sinksVersion);
                    if (sinks.Sinks is { } list)
                    {
                        _sinks = [.. list];
                        _sinksVersion = sinks.Version;
                        LogSinks(logger, list.Count);
                    }
                }
                catch (Exception ex) when (ex is not OutOfMemoryException && !stoppingToken.IsCancellationRequested)
                {
                    // The silo is starting or the hub is moving: the list stands until the next try.
                    LogRefreshFailed(logger, ex.GetType().Name, ex.Message);
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // The silo stops.
        }
    }

    private async Task SendAsync(CancellationToken stoppingToken)
    {
        var batch = new List<JobEvent>();
        try
        {
            while (await _queue.Reader.WaitToReadAsync(stoppingToken))
            {
                while (batch.Count < options.Value.MaxBatchEvents && _queue.Reader.TryRead(out var live))
                {
                    batch.Add(live);
                }

                var sent = new JobEventBatch([.. batch]);
                batch.Clear();
                foreach (var sink in _sinks)
                {
                    try
                    {
                        // One way: the call returns once queued; a host that is slow or gone costs the silo nothing more.
                        _ = sink.ReceiveAsync(sent);
                        Interlocked.Add(ref _sent, sent.Events.Count);
                    }
                    catch (Exception ex) when (ex is not OutOfMemoryException)
                    {
                        LogSendFailed(logger, ex.GetType().Name, ex.Message);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // The silo stops: hosts read what they miss from the journal.
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Live events: {Count} API host(s) listening")]
    private static partial void LogSinks(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Live events: the list of listening hosts was not read ({Error}: {Message})")]
    private static partial void LogRefreshFailed(ILogger logger, string error, string message);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Live events: a batch was not sent to a host ({Error}: {Message})")]
    private static partial void LogSendFailed(ILogger logger, string error, string message);
}
