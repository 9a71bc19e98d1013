using OrleansJobs.Hosting;

namespace OrleansJobs.Devices;

/// <summary>Device ids and kinds: chosen by whoever registers the device (<see cref="Slugs"/>).</summary>
public static class DeviceIds
{
    public const int MaxLength = Slugs.MaxLength;

    public const string Rule = Slugs.Rule;

    public static bool IsValid(string? id) => Slugs.IsValid(id);
}

/// <summary>Bounds of a device's definition and of its agent's reports, checked by the API host and the device grain alike.</summary>
public static class DeviceLimits
{
    public const int MaxNameLength = 200;
    public const int MaxAgentLength = 200;
    public const int MaxFaultLength = 2000;
    public const int MaxSettingsLength = 16_384;

    /// <summary>A device is Offline when no heartbeat came for this long (default).</summary>
    public const int DefaultHeartbeatTimeoutSeconds = 10;
    public const int MinHeartbeatTimeoutSeconds = 1;
    public const int MaxHeartbeatTimeoutSeconds = 3_600;
}
