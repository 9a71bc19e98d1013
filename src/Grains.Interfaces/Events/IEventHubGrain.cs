using Orleans.Concurrency;

namespace OrleansJobs.Events;

/// <summary>
/// The registry of API hosts listening for live job events (key 0). A host holds a lease on its
/// subscription and renews it; each silo reads the list every second or so and publishes only
/// while it is not empty.
/// </summary>
[Alias("OrleansJobs.IEventHubGrain")]
public interface IEventHubGrain : IGrainWithIntegerKey
{
    /// <summary>
    /// Adds the sink, or renews its lease; a sink not renewed within the lease is dropped. True when it was listed
    /// already; false when it was added (for a renewal: the hub lost it, and silos sent it nothing meanwhile).
    /// </summary>
    [Alias("Subscribe")]
    Task<bool> SubscribeAsync(IJobEventSink sink);

    /// <summary>Removes the sink at once.</summary>
    [Alias("Unsubscribe")]
    Task UnsubscribeAsync(IJobEventSink sink);

    /// <summary>The sinks, unless their list is still at <paramref name="knownVersion"/> (then <see cref="EventSinks.Sinks"/> is null).</summary>
    [ReadOnly, Alias("GetSinks")]
    Task<EventSinks> GetSinksAsync(long knownVersion);
}

/// <summary>The registered sinks as of <see cref="Version"/>.</summary>
[GenerateSerializer, Immutable, Alias("OrleansJobs.EventSinks")]
public sealed record EventSinks([property: Id(0)] long Version, [property: Id(1)] IReadOnlyList<IJobEventSink>? Sinks);

/// <summary>The timings of subscriptions, shared by the hub and the hosts.</summary>
public static class EventHubTimings
{
    /// <summary>How long a subscription lasts without renewal.</summary>
    public static readonly TimeSpan Lease = TimeSpan.FromSeconds(30);

    /// <summary>How often a host renews its subscription (a third of the lease: two renewals may be lost).</summary>
    public static readonly TimeSpan Renewal = TimeSpan.FromSeconds(10);
}
