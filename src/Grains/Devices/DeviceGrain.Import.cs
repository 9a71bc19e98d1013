using Microsoft.Extensions.Logging;

namespace OrleansJobs.Devices;

/// <summary>A device restored from an archive.</summary>
public sealed partial class DeviceGrain
{
    public async Task<DeviceResult> ImportAsync(ArchivedDevice device, string actor)
    {
        await _changes.WaitAsync();
        try
        {
            if (state.State.Exists)
            {
                return new DeviceResult(DeviceOutcome.Existing, Snapshot(), []);
            }

            var definition = device.Definition;
            var errors = DeviceRules.Check(definition.Kind, definition.Name, definition.SettingsJson, definition.HeartbeatTimeoutSeconds);
            if (errors.Count > 0)
            {
                return new DeviceResult(DeviceOutcome.Invalid, null, errors);
            }

            // Health is what this cluster has heard: nothing yet, so Offline until its agent heartbeats here.
            state.State = new DeviceState
            {
                Exists = true, Kind = definition.Kind, Name = definition.Name, SettingsJson = DeviceRules.Normalize(definition.SettingsJson),
                HeartbeatTimeoutSeconds = definition.HeartbeatTimeoutSeconds, Health = DeviceHealth.Offline, HealthSince = time.GetUtcNow(),
                CreatedAt = device.CreatedAt, UpdatedAt = device.UpdatedAt, Version = Math.Max(0, device.Version - 1), // SaveAsync counts the write
            };
            await SaveAsync(rowChanged: true);
            LogImported(logger, Id, definition.Kind, actor);
            return new DeviceResult(DeviceOutcome.Registered, Snapshot(), []);
        }
        finally
        {
            _changes.Release();
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Device {DeviceId} ({Kind}) imported by {Actor}")]
    private static partial void LogImported(ILogger logger, string deviceId, string kind, string actor);
}
