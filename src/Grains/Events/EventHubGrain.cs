namespace OrleansJobs.Events;

/// <summary>
/// Keeps the API hosts' event sinks with their lease, in memory: after a loss of its activation the
/// list is empty until the hosts renew (within <see cref="EventHubTimings.Renewal"/>), and a host
/// that missed events meanwhile reads them from the journal when the next one shows the gap.
/// </summary>
public sealed class EventHubGrain(TimeProvider time) : Grain, IEventHubGrain
{
    private readonly Dictionary<GrainId, (IJobEventSink Sink, DateTimeOffset Expires)> _sinks = [];
    private IReadOnlyList<IJobEventSink> _list = [];
    private long _version = time.GetUtcNow().UtcTicks; // not 1: a silo must not take a new activation's list for the one it knows

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        this.RegisterGrainTimer(Prune, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(5));
        return Task.CompletedTask;
    }

    Task<bool> IEventHubGrain.SubscribeAsync(IJobEventSink sink)
    {
        var id = sink.GetGrainId();
        var known = _sinks.ContainsKey(id);
        _sinks[id] = (sink, time.GetUtcNow() + EventHubTimings.Lease);
        if (!known)
        {
            Changed();
        }

        return Task.FromResult(known);
    }

    Task IEventHubGrain.UnsubscribeAsync(IJobEventSink sink)
    {
        if (_sinks.Remove(sink.GetGrainId()))
        {
            Changed();
        }

        return Task.CompletedTask;
    }

    Task<EventSinks> IEventHubGrain.GetSinksAsync(long knownVersion) =>
        Task.FromResult(new EventSinks(_version, knownVersion == _version ? null : _list));

    private Task Prune()
    {
        var now = time.GetUtcNow();
        var expired = _sinks.Where(s => s.Value.Expires <= now).Select(s => s.Key).ToList();
        foreach (var id in expired)
        {
            _sinks.Remove(id);
        }

        if (expired.Count > 0)
        {
            Changed();
        }

        return Task.CompletedTask;
    }

    private void Changed()
    {
        _version++;
        _list = [.. _sinks.Values.Select(s => s.Sink)];
    }
}
