namespace OrleansJobs.Devices;

/// <summary>A device's durable state in the <c>jobs</c> store, stored as JSON: add properties, never rename or retype them. Heartbeats are not stored, only the changes of health they cause.</summary>
public sealed class DeviceState
{
    public bool Exists { get; set; }

    public string Kind { get; set; } = "";

    public string Name { get; set; } = "";

    /// <summary>Settings for the device's agent: a JSON object.</summary>
    public string SettingsJson { get; set; } = "{}";

    public int HeartbeatTimeoutSeconds { get; set; } = DeviceLimits.DefaultHeartbeatTimeoutSeconds;

    /// <summary>Offline, Online or Faulted (Busy is Online with a running owner, derived).</summary>
    public DeviceHealth Health { get; set; }

    public DateTimeOffset HealthSince { get; set; }

    /// <summary>The agent that serves the device: the one that heartbeats it.</summary>
    public string? Agent { get; set; }

    /// <summary>The last heartbeat as of the last write (the live one is in memory).</summary>
    public DateTimeOffset? LastHeartbeatAt { get; set; }

    public DeviceFault? LastFault { get; set; }

    public DeviceCheck? Check { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }

    public long Version { get; set; }
}
