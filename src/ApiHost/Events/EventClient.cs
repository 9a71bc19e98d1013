using System.Threading.Channels;

namespace OrleansJobs.ApiHost.Events;

/// <summary>An event ready to send: its id (0: none), the job event it came from, and its frame, made once for every client.</summary>
public sealed record FeedEvent(long EventId, OrleansJobs.Events.JobEvent Event, byte[] Frame);

/// <summary>
/// One stream's place in the feed: a bounded queue of events that match its filter. The feed never
/// waits for it: when the queue is full the client is cut off (<see cref="Overflowed"/>) and its
/// stream ends with a reconnect event.
/// </summary>
public sealed class EventClient(EventFilter filter, long after, int capacity) : IDisposable
{
    private readonly Channel<FeedEvent> _queue = Channel.CreateBounded<FeedEvent>(
        new BoundedChannelOptions(capacity) { SingleReader = true, SingleWriter = true, FullMode = BoundedChannelFullMode.Wait });

    /// <summary>Called once when the stream ends, to leave the feed.</summary>
    public Action<EventClient>? Left { get; set; }

    public EventFilter Filter { get; } = filter;

    /// <summary>Live events with an id up to this one are not for this client (it has them, or reads them from the journal).</summary>
    public long After { get; } = after;

    /// <summary>The first event id the feed will deliver live; the stream replays below it from the journal.</summary>
    public long LiveFrom { get; init; }

    private volatile bool _overflowed;

    /// <summary>The client fell a whole buffer behind and was cut off.</summary>
    public bool Overflowed => _overflowed;

    public ChannelReader<FeedEvent> Reader => _queue.Reader;

    /// <summary>Queues the event if it is for this client; false once the client is cut off.</summary>
    internal bool Offer(FeedEvent e)
    {
        if (Overflowed || (e.EventId != 0 && e.EventId <= After) || !Filter.Matches(e.Event))
        {
            return !Overflowed;
        }

        if (_queue.Writer.TryWrite(e))
        {
            return true;
        }

        _overflowed = true;
        _queue.Writer.TryComplete();
        return false;
    }

    public void Dispose()
    {
        _queue.Writer.TryComplete();
        Left?.Invoke(this);
        Left = null;
    }
}
