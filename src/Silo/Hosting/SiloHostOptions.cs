using System.ComponentModel.DataAnnotations;

namespace OrleansJobs.Silo.Hosting;

/// <summary>How this silo process listens and starts (configuration section <c>Silo</c>).</summary>
public sealed class SiloHostOptions
{
    public const string SectionName = "Silo";

    /// <summary>Address other silos and clients use to reach this silo. Loopback by default: a single-machine cluster.</summary>
    [Required]
    public string AdvertisedAddress { get; set; } = "127.0.0.1";

    /// <summary>Silo-to-silo port. Give each silo on one machine its own.</summary>
    [Range(1, 65535)]
    public int SiloPort { get; set; } = 11111;

    /// <summary>Port clients (the API host) connect to; 0 runs no gateway.</summary>
    [Range(0, 65535)]
    public int GatewayPort { get; set; } = 30000;

    /// <summary>Bind to all interfaces instead of only the advertised address (containers).</summary>
    public bool ListenOnAnyAddress { get; set; }

    /// <summary>Apply pending schema scripts before joining the cluster.</summary>
    public bool ApplySchemaOnStart { get; set; } = true;

    /// <summary>
    /// Before joining, declare dead the Active members whose silo endpoint refuses connections
    /// (see <see cref="RefusingSiloSweep"/>), so a restart after a crash does not wait minutes.
    /// </summary>
    public bool DeclareRefusingSilosDeadOnStart { get; set; } = true;

    /// <summary>How long that start-up probe waits for each member to accept or refuse.</summary>
    [Range(typeof(TimeSpan), "00:00:00.050", "00:00:30")]
    public TimeSpan StartupProbeTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Longest time the start-up sweep keeps looking for stale members while this silo joins.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan StartupSweepDuration { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>How long start-up waits for the database to become reachable.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan DatabaseWaitTimeout { get; set; } = TimeSpan.FromSeconds(60);
}
