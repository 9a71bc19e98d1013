using Orleans.Concurrency;

namespace OrleansJobs.Events;

/// <summary>
/// An API host's receiver of live job events: an observer the host creates and registers with
/// <see cref="IEventHubGrain"/>. Silos call it one way, so a slow or dead host never holds them up.
/// </summary>
[Alias("OrleansJobs.IJobEventSink")]
public interface IJobEventSink : IGrainObserver
{
    /// <summary>Takes a batch of events; nothing is answered.</summary>
    [OneWay, Alias("Receive")]
    Task ReceiveAsync(JobEventBatch batch);
}
