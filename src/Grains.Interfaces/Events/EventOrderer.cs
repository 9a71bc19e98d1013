namespace OrleansJobs.Events;

/// <summary>
/// Puts journal events that arrive from several silos back into event id order (the API host's feed; here, beside
/// the event contracts, so that any client of the events can use it and tests can reach it). Ids are drawn in
/// commit order (docs/events.md), so once an id has arrived every lower id is committed or never
/// will be: an id that is late is either on its way or must be read from the journal
/// (<see cref="GapDue"/>, <see cref="Fill"/>), and one that is not there is a gap to skip. Not
/// thread-safe: the feed's one loop uses it.
/// </summary>
public sealed class EventOrderer<T>(long next, TimeProvider time)
{
    private readonly SortedDictionary<long, T> _waiting = [];
    private long _waitingSince;

    /// <summary>The id delivered next; everything below it was delivered or skipped.</summary>
    public long Next { get; private set; } = next;

    /// <summary>Events that arrived ahead of a missing one.</summary>
    public int Waiting => _waiting.Count;

    /// <summary>Takes an event; returns what may now be delivered, in order (none when it is early, or a duplicate).</summary>
    public IReadOnlyList<T> Offer(long id, T item)
    {
        var ready = new List<T>();
        Offer(id, item, ready);
        return ready;
    }

    /// <summary>Takes an event; adds what may now be delivered to <paramref name="ready"/>, in order.</summary>
    public void Offer(long id, T item, List<T> ready)
    {
        if (id == Next && _waiting.Count == 0)
        {
            // The usual case: the next id, nothing ahead of it.
            ready.Add(item);
            Next++;
            return;
        }

        if (id < Next || !_waiting.TryAdd(id, item))
        {
            return;
        }

        if (_waiting.Count == 1)
        {
            _waitingSince = time.GetTimestamp();
        }

        Drain(ready);
    }

    /// <summary>The ids to read from the journal, [From, To), once the oldest missing one is later than <paramref name="timeout"/>; else null.</summary>
    public (long From, long To)? GapDue(TimeSpan timeout) =>
        _waiting.Count > 0 && time.GetElapsedTime(_waitingSince) >= timeout ? (Next, _waiting.Keys.First()) : null;

    /// <summary>When the gap (if any) is due to be read.</summary>
    public TimeSpan? UntilGapDue(TimeSpan timeout) =>
        _waiting.Count == 0 ? null : timeout - time.GetElapsedTime(_waitingSince) is var left && left > TimeSpan.Zero ? left : TimeSpan.Zero;

    /// <summary>
    /// Takes what the journal holds of [<see cref="Next"/>, <paramref name="to"/>) (ids not there never will be);
    /// returns those events and the waiting ones now in order.
    /// </summary>
    public IReadOnlyList<T> Fill(IEnumerable<(long Id, T Item)> found, long to)
    {
        var delivered = new List<T>();
        foreach (var (id, item) in found.OrderBy(f => f.Id))
        {
            if (id >= Next && id < to)
            {
                delivered.Add(item);
                Next = id + 1;
            }
        }

        Next = Math.Max(Next, to);
        // Anything still waiting below the new start was delivered from the journal meanwhile.
        while (_waiting.Count > 0 && _waiting.Keys.First() < Next)
        {
            _waiting.Remove(_waiting.Keys.First());
        }

        _waitingSince = time.GetTimestamp();
        Drain(delivered);
        return delivered;
    }

    private void Drain(List<T> delivered)
    {
        while (_waiting.Remove(Next, out var item))
        {
            delivered.Add(item);
            Next++;
            _waitingSince = time.GetTimestamp();
        }
    }
}
