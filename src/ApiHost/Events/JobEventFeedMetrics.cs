using System.Diagnostics.Metrics;
using OrleansJobs.ApiHost.ReadModel;

namespace OrleansJobs.ApiHost.Events;

/// <summary>
/// The live event feed's counts as meters of <see cref="JobGauges.MeterName"/>, read at each scrape from
/// <see cref="JobEventFeed.Stats"/>: nothing is added to the delivery path. Listed in docs/operations.md.
/// </summary>
public sealed class JobEventFeedMetrics
{
    public JobEventFeedMetrics(IMeterFactory meters, JobEventFeed feed)
    {
        var meter = meters.Create(JobGauges.MeterName);
        meter.CreateObservableCounter("orleansjobs.events.received", () => feed.Stats.Received, "{event}",
            "Live events this API host received from the silos");
        meter.CreateObservableCounter("orleansjobs.events.filled", () => feed.Stats.Filled, "{event}",
            "Events this API host read from the journal because they had not arrived within Events:GapTimeout");
        meter.CreateObservableCounter("orleansjobs.events.cut_off", () => feed.Stats.CutOff, "{stream}",
            "Event streams ended with a reconnect event because their client fell Events:ClientBufferSize events behind");
        meter.CreateObservableUpDownCounter("orleansjobs.events.streams", () => feed.Stats.Clients, "{stream}",
            "Event streams open on this API host");
    }
}
