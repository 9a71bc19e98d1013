using System.Text.Json;
using OrleansJobs.Jobs;

namespace OrleansJobs.Devices;

/// <summary>Why a device stopped a job, besides a fault's own text (journaled, and shown as the job's interruption).</summary>
public static class DeviceCauses
{
    public const string HeartbeatLost = "heartbeat_lost";
}

/// <summary>The rules of a device's definition, for the grain (the API host checks shapes with the same limits).</summary>
public static class DeviceRules
{
    public static List<JobParameterError> Check(string? kind, string? name, string? settingsJson, int heartbeatTimeoutSeconds)
    {
        var errors = new List<JobParameterError>();
        if (!DeviceIds.IsValid(kind))
        {
            errors.Add(new("kind", $"must be a device kind: {DeviceIds.Rule}"));
        }

        if (string.IsNullOrWhiteSpace(name) || name.Length > DeviceLimits.MaxNameLength || !StorableText.IsStorable(name))
        {
            errors.Add(new("name", $"must be a string of 1 to {DeviceLimits.MaxNameLength} characters"));
        }

        if (heartbeatTimeoutSeconds is < DeviceLimits.MinHeartbeatTimeoutSeconds or > DeviceLimits.MaxHeartbeatTimeoutSeconds)
        {
            errors.Add(new("heartbeatTimeoutSeconds", $"must be a whole number from {DeviceLimits.MinHeartbeatTimeoutSeconds} to {DeviceLimits.MaxHeartbeatTimeoutSeconds}"));
        }

        if (settingsJson is null || settingsJson.Length > DeviceLimits.MaxSettingsLength || !IsObject(settingsJson))
        {
            errors.Add(new("settings", $"must be a JSON object of at most {DeviceLimits.MaxSettingsLength} characters"));
        }

        return errors;
    }

    /// <summary>The settings as one canonical text, so that the same settings compare equal however they were spaced.</summary>
    public static string Normalize(string settingsJson) => JsonSerializer.Serialize(JsonDocument.Parse(settingsJson).RootElement);

    private static bool IsObject(string json)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            return document.RootElement.ValueKind == JsonValueKind.Object && StorableText.IsStorable(json);
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
