using System.Diagnostics.Metrics;
using OrleansJobs.Telemetry;

namespace OrleansJobs.Events;

/// <summary>
/// The silo's live event counts as meters of <see cref="JobMetrics.MeterName"/>, read at each scrape from
/// <see cref="JobEventPublisher.Stats"/>: nothing is added to the publishing path. Listed in docs/operations.md.
/// </summary>
public sealed class JobEventPublisherMetrics
{
    public JobEventPublisherMetrics(IMeterFactory meters, JobEventPublisher publisher)
    {
        var meter = meters.Create(JobMetrics.MeterName);
        meter.CreateObservableCounter("orleansjobs.events.sent", () => publisher.Stats.Sent, "{event}",
            "Live events this silo sent to API hosts (an event sent to two hosts counts twice)");
        meter.CreateObservableCounter("orleansjobs.events.dropped", () => publisher.Stats.Dropped, "{event}",
            "Live events not sent because the send queue was full (Events:QueueCapacity); hosts read dropped journal entries from the journal");
    }
}
