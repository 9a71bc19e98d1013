using System.ComponentModel.DataAnnotations;

namespace OrleansJobs.ApiHost.Events;

/// <summary>Settings of the live event streams (configuration section <c>Events</c>); docs/events.md.</summary>
public sealed class EventsOptions
{
    public const string SectionName = "Events";

    /// <summary>Events one client may have waiting to be sent; past that it is told to reconnect.</summary>
    [Range(1, 1_000_000)]
    public int ClientBufferSize { get; set; } = 10_000;

    /// <summary>How long a missing event id is waited for before the journal is read for it.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:01:00")]
    public TimeSpan GapTimeout { get; set; } = TimeSpan.FromMilliseconds(300);

    /// <summary>Longest silence on a stream: a comment line is sent then, so proxies keep it open.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:10:00")]
    public TimeSpan KeepAliveInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Journal rows read per query while replaying.</summary>
    [Range(10, 100_000)]
    public int ReplayPageSize { get; set; } = 1_000;

    /// <summary>How long the host stays subscribed to the silos after its last client left.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan IdleUnsubscribeAfter { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Most concurrent event streams on this host; more are answered 503.</summary>
    [Range(1, 100_000)]
    public int MaxClients { get; set; } = 1_000;
}
