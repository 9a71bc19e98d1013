namespace OrleansJobs.Jobs.Resources;

/// <summary>
/// Holders and waiters of one resource, in memory, with no I/O: up to <see cref="Limit"/> jobs hold
/// it; the others wait by priority (higher first), then by the time they were queued, then by
/// arrival. Every operation is O(log n). Resource grains keep one and tell the jobs it admits.
/// </summary>
public sealed class ResourceLeases
{
    private readonly Dictionary<string, Holder> _holders = new(StringComparer.Ordinal);
    private readonly RankedSet<Waiter> _waiting = new(WaiterOrder.Instance);
    private readonly Dictionary<string, Waiter> _waiters = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _asked = new(StringComparer.Ordinal); // each waiter's last request, as a stamp
    private long _arrivals;
    private long _stamps; // each grant or confirmation of a holder gets a new stamp

    public int Limit { get; set; } = 1;

    public int HolderCount => _holders.Count;

    public int WaitingCount => _waiting.Count;

    public bool IsHolder(string jobId) => _holders.ContainsKey(jobId);

    public bool IsKnown(string jobId) => _holders.ContainsKey(jobId) || _waiters.ContainsKey(jobId);

    /// <summary>Queues the job unless it holds or waits already (a waiter keeps its place).</summary>
    public void Enqueue(string jobId, int priority, DateTimeOffset queuedAt)
    {
        if (_waiters.ContainsKey(jobId))
        {
            _asked[jobId] = ++_stamps; // it asked again: it still waits
            return;
        }

        if (IsKnown(jobId))
        {
            return;
        }

        _asked[jobId] = ++_stamps;
        var waiter = new Waiter(jobId, priority, queuedAt, ++_arrivals);
        _waiting.Add(waiter);
        _waiters[jobId] = waiter;
    }

    /// <summary>Takes a job as a holder without queueing it (taken over from a durable source); it is due for a check.</summary>
    public void AddHolder(string jobId)
    {
        if (_waiters.Remove(jobId, out var waiter))
        {
            _waiting.Remove(waiter);
            _asked.Remove(jobId);
        }

        _holders.TryAdd(jobId, new Holder(null, DateTimeOffset.MinValue, ++_stamps));
    }

    /// <summary>Takes the job out, whether it holds or waits. True when it held the resource.</summary>
    public bool Remove(string jobId)
    {
        if (_holders.Remove(jobId))
        {
            return true;
        }

        if (_waiters.Remove(jobId, out var waiter))
        {
            _waiting.Remove(waiter);
            _asked.Remove(jobId);
        }

        return false;
    }

    /// <summary>Grants waiters in order while the limit allows; returns the jobs granted.</summary>
    public List<string> Admit(DateTimeOffset now)
    {
        var granted = new List<string>();
        while (_holders.Count < Limit && _waiting.Count > 0)
        {
            granted.Add(TakeNext(now)!);
        }

        return granted;
    }

    /// <summary>The next waiter becomes a holder (a worker's claim); null when none waits or the limit is reached.</summary>
    public string? TakeNext(DateTimeOffset now)
    {
        if (_holders.Count >= Limit || _waiting.Count == 0)
        {
            return null;
        }

        var next = _waiting.Min;
        _waiting.Remove(next);
        _waiters.Remove(next.JobId);
        _asked.Remove(next.JobId);
        _holders[next.JobId] = new Holder(next, now, ++_stamps);
        return next.JobId;
    }

    /// <summary>The job's place: granted (a holder), or its 1-based position in the queue (0 when unknown) and, for an exclusive resource, its holder.</summary>
    public ResourceTicket Ticket(string jobId, bool grantHolders = true) =>
        _holders.ContainsKey(jobId) && grantHolders
            ? new ResourceTicket(true, _holders.Count, Limit, 0)
            : new ResourceTicket(false, _holders.Count, Limit, _waiters.TryGetValue(jobId, out var waiter) ? _waiting.RankOf(waiter) + 1 : 0,
                Limit == 1 ? _holders.Keys.FirstOrDefault(h => h != jobId) : null);

    /// <summary>The jobs that hold it, and the first <paramref name="waiting"/> that wait, in order (for operators and deletion).</summary>
    public (List<string> Holders, List<string> Waiting) Members(int waiting) =>
        ([.. _holders.Keys.Order(StringComparer.Ordinal)], [.. _waiting.First(waiting).Select(w => w.JobId)]);

    /// <summary>Holders not confirmed for <paramref name="age"/>, with the stamp of their last grant or confirmation.</summary>
    public List<(string JobId, long Stamp)> HoldersDue(DateTimeOffset now, TimeSpan age) =>
        [.. _holders.Where(h => now - h.Value.ConfirmedAt > age).Select(h => (h.Key, h.Value.Stamp))];

    /// <summary>Every holder with its stamp, and every waiter with the stamp of its last request.</summary>
    public (List<(string JobId, long Stamp)> Holders, List<(string JobId, long Stamp)> Waiting) Snapshot() =>
        ([.. _holders.Select(h => (h.Key, h.Value.Stamp))], [.. _asked.Select(w => (w.Key, w.Value))]);

    /// <summary>Whether the job waits, and has not asked again, since <paramref name="stamp"/>.</summary>
    public bool WaitsSince(string jobId, long stamp) => _asked.TryGetValue(jobId, out var asked) && asked == stamp;

    /// <summary>The stamp of the holder's last grant or confirmation; 0 when it holds nothing.</summary>
    public long StampOf(string jobId) => _holders.TryGetValue(jobId, out var holder) ? holder.Stamp : 0;

    /// <summary>Whether the holder is unchanged since <paramref name="stamp"/> (nobody released, granted or confirmed it again meanwhile).</summary>
    public bool HeldSince(string jobId, long stamp) => _holders.TryGetValue(jobId, out var holder) && holder.Stamp == stamp;

    /// <summary>The holder was heard from: it still holds.</summary>
    public void Confirm(string jobId, DateTimeOffset now)
    {
        if (_holders.TryGetValue(jobId, out var holder))
        {
            _holders[jobId] = holder with { ConfirmedAt = now, Stamp = ++_stamps };
        }
    }

    /// <summary>A holder goes back to the queue with its original place in the order (or at the end, if it had none).</summary>
    public void Requeue(string jobId, DateTimeOffset now)
    {
        if (_holders.Remove(jobId, out var holder))
        {
            Enqueue(jobId, holder.Origin?.Priority ?? 0, holder.Origin?.QueuedAt ?? now);
        }
    }

    private sealed record Holder(Waiter? Origin, DateTimeOffset ConfirmedAt, long Stamp);

    private sealed record Waiter(string JobId, int Priority, DateTimeOffset QueuedAt, long Arrival);

    private sealed class WaiterOrder : IComparer<Waiter>
    {
        public static readonly WaiterOrder Instance = new();

        public int Compare(Waiter? x, Waiter? y)
        {
            if (ReferenceEquals(x, y))
            {
                return 0;
            }

            if (x is null || y is null)
            {
                return x is null ? -1 : 1;
            }

            var byPriority = y.Priority.CompareTo(x.Priority);
            if (byPriority != 0)
            {
                return byPriority;
            }

            var byTime = x.QueuedAt.CompareTo(y.QueuedAt);
            return byTime != 0 ? byTime : x.Arrival.CompareTo(y.Arrival);
        }
    }
}
