using System.Text.RegularExpressions;

namespace OrleansJobs.Devices;

/// <summary>Device ids and kinds: chosen by whoever registers the device, lower-case letters, digits and dashes.</summary>
public static partial class DeviceIds
{
    public const int MaxLength = 64;

    public const string Rule = "1 to 64 lower-case letters, digits and dashes, starting with a letter or digit";

    public static bool IsValid(string? id) => id is not null && Pattern().IsMatch(id);

    [GeneratedRegex("^[a-z0-9][a-z0-9-]{0,63}$")]
    private static partial Regex Pattern();
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
