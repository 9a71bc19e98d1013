using System.Threading.Channels;
using Microsoft.Extensions.Options;
using OrleansJobs.ApiHost.ReadModel;
using OrleansJobs.Events;

namespace OrleansJobs.ApiHost.Events;

/// <summary>
/// The API host's one subscription to live job events, shared by all its streams. Subscribes when the
/// first stream opens (an observer registered with <see cref="IEventHubGrain"/>), puts journal events
/// from all silos in event id order (<see cref="EventOrderer{T}"/>, reading from the journal what does
/// not arrive within <see cref="EventsOptions.GapTimeout"/>), and hands each event to the streams whose
/// filter it passes, never waiting for one. Unsubscribes after <see cref="EventsOptions.IdleUnsubscribeAfter"/>
/// without streams. docs/events.md.
/// </summary>
public sealed partial class JobEventFeed(
    IClusterClient cluster, EventReads reads, IOptions<EventsOptions> options, TimeProvider time, ILogger<JobEventFeed> logger)
    : BackgroundService
{
    private readonly Channel<JobEventBatch> _inbound = Channel.CreateUnbounded<JobEventBatch>(new UnboundedChannelOptions { SingleReader = true });
    private readonly SemaphoreSlim _startGate = new(1, 1);
    private readonly Lock _lock = new();
    private readonly List<EventClient> _clients = [];
    private Sink? _sink; // the observer itself: the client holds it only weakly
    private IJobEventSink? _sinkReference;
    private volatile EventOrderer<FeedEvent>? _orderer;
    private long _idleSince;
    private long _renewedAt;
    private long _received;
    private long _filled;
    private long _cutOff;
    private int _catchUp; // 1: the hub had lost this host; read what was committed meanwhile

    private EventsOptions Settings => options.Value;

    /// <summary>Events received from silos, events read from the journal to fill gaps, clients cut off for falling behind.</summary>
    public (long Received, long Filled, long CutOff, int Clients) Stats
    {
        get
        {
            lock (_lock)
            {
                return (Interlocked.Read(ref _received), Interlocked.Read(ref _filled), Interlocked.Read(ref _cutOff), _clients.Count);
            }
        }
    }

    /// <summary>
    /// Adds a stream: from now on it is given every live event that passes <paramref name="filter"/> with an id from
    /// <see cref="EventClient.LiveFrom"/> on (and above <paramref name="after"/>), and every id-less one. Null when the host has
    /// <see cref="EventsOptions.MaxClients"/> streams already.
    /// </summary>
    public async Task<EventClient?> JoinAsync(EventFilter filter, long after, CancellationToken cancellationToken)
    {
        while (true)
        {
            await SubscribeAsync(cancellationToken);
            lock (_lock)
            {
                if (_orderer is not { } orderer)
                {
                    continue; // stopped for idleness meanwhile: start again
                }

                if (_clients.Count >= Settings.MaxClients)
                {
                    return null;
                }

                var client = new EventClient(filter, after, Settings.ClientBufferSize) { LiveFrom = orderer.Next, Left = Leave };
                _clients.Add(client);
                return client;
            }
        }
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) => Task.WhenAll(DeliverAsync(stoppingToken), KeepSubscribedAsync(stoppingToken));

    private async Task SubscribeAsync(CancellationToken cancellationToken)
    {
        if (_orderer is not null)
        {
            return;
        }

        await _startGate.WaitAsync(cancellationToken);
        try
        {
            if (_orderer is not null)
            {
                return;
            }

            _sink ??= new Sink(_inbound.Writer);
            _sinkReference ??= cluster.CreateObjectReference<IJobEventSink>(_sink);
            await cluster.GetGrain<IEventHubGrain>(0).SubscribeAsync(_sinkReference);
            // Read after subscribing: an event that arrives before this read is committed, so at most this id, and dropped.
            var newest = await reads.MaxEventIdAsync(cancellationToken);
            lock (_lock)
            {
                _orderer = new EventOrderer<FeedEvent>(newest + 1, time);
                _idleSince = time.GetTimestamp();
                // The first renewal (and its catch-up) a few seconds on: silos learn of the subscription within Events:SinkRefresh.
                _renewedAt = time.GetTimestamp() - (long)((EventHubTimings.Renewal - TimeSpan.FromSeconds(3)).TotalSeconds * time.TimestampFrequency);
            }

            LogSubscribed(logger, newest + 1);
        }
        finally
        {
            _startGate.Release();
        }
    }

    private void Leave(EventClient client)
    {
        lock (_lock)
        {
            if (_clients.Remove(client) && _clients.Count == 0)
            {
                _idleSince = time.GetTimestamp();
            }
        }
    }

    private async Task DeliverAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                await WaitForEventsAsync(stoppingToken);
                while (_inbound.Reader.TryRead(out var batch))
                {
                    Take(batch);
                }

                if (_orderer is { } orderer && orderer.GapDue(Settings.GapTimeout) is { } gap)
                {
                    await FillAsync(orderer, gap.From, gap.To, stoppingToken);
                }

                if (Interlocked.Exchange(ref _catchUp, 0) == 1 && _orderer is { } behind)
                {
                    // Every id up to the newest committed one is committed or never will be: read them all.
                    var newest = await reads.MaxEventIdAsync(stoppingToken);
                    if (newest >= behind.Next)
                    {
                        await FillAsync(behind, behind.Next, newest + 1, stoppingToken);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // The host stops.
        }
    }

    private async Task WaitForEventsAsync(CancellationToken stoppingToken)
    {
        var wait = _orderer?.UntilGapDue(Settings.GapTimeout);
        if (wait is null)
        {
            await _inbound.Reader.WaitToReadAsync(stoppingToken);
            return;
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        timeout.CancelAfter(wait.Value);
        try
        {
            await _inbound.Reader.WaitToReadAsync(timeout.Token);
        }
        catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
        {
            // The gap is due.
        }
    }

    private void Take(JobEventBatch batch)
    {
        Interlocked.Add(ref _received, batch.Events.Count);
        if (_orderer is null)
        {
            return; // not subscribed (any more): nothing of this is wanted
        }

        var frames = batch.Events.Select(EventFrames.From).ToArray();
        var ready = new List<FeedEvent>(frames.Length);
        lock (_lock)
        {
            if (_orderer is not { } orderer)
            {
                return;
            }

            foreach (var e in frames)
            {
                if (e.EventId == 0)
                {
                    ready.Add(e);
                }
                else
                {
                    orderer.Offer(e.EventId, e, ready);
                }
            }

            Deliver(ready);
        }
    }

    private async Task FillAsync(EventOrderer<FeedEvent> orderer, long from, long to, CancellationToken stoppingToken)
    {
        var found = new List<(long, FeedEvent)>();
        try
        {
            await foreach (var e in reads.ReadAsync(from, to, null, Settings.ReplayPageSize, stoppingToken))
            {
                found.Add((e.EventId, EventFrames.From(e)));
            }
        }
        catch (Exception ex) when (ex is Npgsql.NpgsqlException or TimeoutException && !stoppingToken.IsCancellationRequested)
        {
            // The database is away: the gap stays and is tried again (the events after it wait).
            LogFillFailed(logger, from, to, ex.Message);
            await Task.Delay(Settings.GapTimeout, time, stoppingToken);
            return;
        }

        Interlocked.Add(ref _filled, found.Count);
        lock (_lock)
        {
            if (ReferenceEquals(_orderer, orderer))
            {
                Deliver(orderer.Fill(found, to));
            }
        }

        LogFilled(logger, from, to, found.Count);
    }

    /// <summary>Under the lock: so a stream that joins sees each event either live or in its replay, never both, never neither.</summary>
    private void Deliver(IReadOnlyList<FeedEvent> events)
    {
        if (events.Count == 0 || _clients.Count == 0)
        {
            return;
        }

        List<EventClient>? cut = null;
        foreach (var e in events)
        {
            foreach (var client in _clients)
            {
                if (!client.Offer(e))
                {
                    (cut ??= []).Add(client);
                }
            }
        }

        foreach (var client in cut?.Distinct() ?? [])
        {
            _clients.Remove(client);
            Interlocked.Increment(ref _cutOff);
        }
    }

    private async Task KeepSubscribedAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1), time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await RenewOrStopAsync(stoppingToken);
                }
                catch (Exception ex) when (ex is not OutOfMemoryException && !stoppingToken.IsCancellationRequested)
                {
                    // The cluster is away: the next tick tries again; a gap shows what was missed meanwhile.
                    LogRenewFailed(logger, ex.GetType().Name, ex.Message);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // The host stops.
        }

        if (_sinkReference is { } sink && _orderer is not null)
        {
            try
            {
                await cluster.GetGrain<IEventHubGrain>(0).UnsubscribeAsync(sink);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                LogRenewFailed(logger, ex.GetType().Name, ex.Message); // the lease ends it
            }
        }
    }

    private async Task RenewOrStopAsync(CancellationToken stoppingToken)
    {
        if (_orderer is null || _sinkReference is not { } sink)
        {
            return;
        }

        bool stop;
        lock (_lock)
        {
            stop = _clients.Count == 0 && time.GetElapsedTime(_idleSince) >= Settings.IdleUnsubscribeAfter;
        }

        var hub = cluster.GetGrain<IEventHubGrain>(0);
        if (stop)
        {
            await _startGate.WaitAsync(stoppingToken);
            try
            {
                lock (_lock)
                {
                    if (_clients.Count > 0)
                    {
                        return;
                    }

                    _orderer = null;
                }

                LogUnsubscribed(logger);
                await hub.UnsubscribeAsync(sink);
            }
            finally
            {
                _startGate.Release();
            }

            return;
        }

        if (time.GetElapsedTime(Interlocked.Read(ref _renewedAt)) >= EventHubTimings.Renewal)
        {
            if (!await hub.SubscribeAsync(sink))
            {
                // The hub lost this host (its silo died): the silos sent nothing meanwhile.
                LogResubscribed(logger);
            }

            // With each renewal, one look at the newest id committed: entries committed but never sent (a silo killed
            // between its commit and its send, events before the silos knew of this host) with nothing after them to
            // reveal the gap are delivered within a renewal period. Not the delivery path: a safety net of one query.
            Interlocked.Exchange(ref _catchUp, 1);
            _inbound.Writer.TryWrite(new JobEventBatch([]));

            Interlocked.Exchange(ref _renewedAt, time.GetTimestamp());
        }
    }

    public override void Dispose()
    {
        _startGate.Dispose();
        base.Dispose();
    }

    /// <summary>The observer: queues what a silo sends and returns at once.</summary>
    private sealed class Sink(ChannelWriter<JobEventBatch> inbound) : IJobEventSink
    {
        public Task ReceiveAsync(JobEventBatch batch)
        {
            inbound.TryWrite(batch);
            return Task.CompletedTask;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Live events: subscribed; the first event id delivered live is {Next}")]
    private static partial void LogSubscribed(ILogger logger, long next);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Live events: the hub had lost this host's subscription; catching up from the journal")]
    private static partial void LogResubscribed(ILogger logger);

    [LoggerMessage(Level = LogLevel.Information, Message = "Live events: no stream for a while; unsubscribed")]
    private static partial void LogUnsubscribed(ILogger logger);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Live events: ids {From} to {To} (excluded) read from the journal: {Found} found")]
    private static partial void LogFilled(ILogger logger, long from, long to, int found);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Live events: ids {From} to {To} could not be read from the journal ({Message}); trying again")]
    private static partial void LogFillFailed(ILogger logger, long from, long to, string message);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Live events: the subscription was not renewed ({Error}: {Message})")]
    private static partial void LogRenewFailed(ILogger logger, string error, string message);
}
