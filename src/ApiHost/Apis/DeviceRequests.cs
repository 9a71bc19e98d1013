using System.ComponentModel.DataAnnotations;
using System.Text.Json;
using Microsoft.AspNetCore.Mvc;
using OrleansJobs.ApiHost.Hosting;
using OrleansJobs.Devices;

namespace OrleansJobs.ApiHost.Apis;

/// <summary>Body of <c>POST /api/devices</c>.</summary>
/// <param name="Id">The device's id, chosen by you: 1 to 64 lower-case letters, digits and dashes.</param>
/// <param name="Kind">What it is (e.g. <c>plotter</c>); device job types name the kind they run on. Same rule as the id.</param>
/// <param name="Name">Display name, 1 to 200 characters.</param>
/// <param name="Settings">Settings for its agent: a JSON object of at most 16,384 characters (default empty).</param>
/// <param name="HeartbeatTimeoutSeconds">The device is Offline (and a job running on it paused) when its agent sends no heartbeat for this long: 1 to 3,600 s, default 10.</param>
public sealed record RegisterDeviceRequest(
    [property: Required(ErrorMessage = "is required"), DeviceId] string Id,
    [property: Required(ErrorMessage = "is required"), DeviceId] string Kind,
    [property: Required(ErrorMessage = "is required"), StringLength(DeviceLimits.MaxNameLength, MinimumLength = 1, ErrorMessage = "must be a string of 1 to {1} characters")]
    string Name,
    JsonElement? Settings = null,
    [property: Range(DeviceLimits.MinHeartbeatTimeoutSeconds, DeviceLimits.MaxHeartbeatTimeoutSeconds, ErrorMessage = "must be a whole number from {1} to {2}")]
    int? HeartbeatTimeoutSeconds = null) : IValidatableObject
{
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext) => DeviceSettings.Check(Settings);

    public DeviceDefinition ToDefinition() =>
        new(Kind, Name, Settings?.GetRawText() ?? "{}", HeartbeatTimeoutSeconds ?? DeviceLimits.DefaultHeartbeatTimeoutSeconds);
}

/// <summary>Body of <c>PATCH /api/devices/{id}</c>: the members given change, the others stay. The kind never changes.</summary>
/// <param name="Name">New display name.</param>
/// <param name="Settings">New settings for its agent (replaces them).</param>
/// <param name="HeartbeatTimeoutSeconds">New heartbeat timeout, 1 to 3,600 s.</param>
public sealed record UpdateDeviceRequest(
    [property: StringLength(DeviceLimits.MaxNameLength, MinimumLength = 1, ErrorMessage = "must be a string of 1 to {1} characters")]
    string? Name = null,
    JsonElement? Settings = null,
    [property: Range(DeviceLimits.MinHeartbeatTimeoutSeconds, DeviceLimits.MaxHeartbeatTimeoutSeconds, ErrorMessage = "must be a whole number from {1} to {2}")]
    int? HeartbeatTimeoutSeconds = null) : IValidatableObject
{
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext) => DeviceSettings.Check(Settings);

    public DeviceUpdate ToUpdate() => new(Name, Settings?.GetRawText(), HeartbeatTimeoutSeconds);
}

/// <summary>Body of <c>POST /api/devices/{id}/heartbeat</c>, sent by the device's agent every second or so.</summary>
/// <param name="AgentId">The agent (1-200 characters): the one that heartbeats a device serves it; another is refused until the device is Offline.</param>
/// <param name="Fault">A fault the agent still sees (the device stays Faulted while it is reported); omit when the device is fine.</param>
/// <param name="Check">The agent's answer to the check request it was given.</param>
public sealed record DeviceHeartbeatRequest(
    [property: Required(ErrorMessage = "is required"), StringLength(DeviceLimits.MaxAgentLength, MinimumLength = 1, ErrorMessage = "must be a string of 1 to {1} characters")]
    string AgentId,
    [property: StringLength(DeviceLimits.MaxFaultLength, MinimumLength = 1, ErrorMessage = "must be a string of 1 to {1} characters")]
    string? Fault = null,
    DeviceCheckAnswer? Check = null)
{
    public DeviceHeartbeat ToHeartbeat() => new(AgentId, Fault, Check?.Id, Check?.Ok, Check?.Detail);
}

/// <summary>An agent's answer to a check request.</summary>
/// <param name="Id">The check's id, as the heartbeat's answer gave it.</param>
/// <param name="Ok">Whether the device passed.</param>
/// <param name="Detail">What the agent found.</param>
public sealed record DeviceCheckAnswer(
    [property: Required(ErrorMessage = "is required"), StringLength(64, MinimumLength = 1, ErrorMessage = "must be a string of 1 to {1} characters")]
    string Id,
    [property: Required(ErrorMessage = "is required")] bool? Ok,
    [property: StringLength(DeviceLimits.MaxFaultLength, ErrorMessage = "must be a string of at most {1} characters")]
    string? Detail = null);

/// <summary>Body of <c>POST /api/devices/{id}/faults</c>: the agent reports a fault (the device turns Faulted and a job running on it is paused).</summary>
/// <param name="AgentId">The agent that serves the device.</param>
/// <param name="Text">What is wrong, 1 to 2,000 characters; journaled on the job it stops.</param>
public sealed record DeviceFaultRequest(
    [property: Required(ErrorMessage = "is required"), StringLength(DeviceLimits.MaxAgentLength, MinimumLength = 1, ErrorMessage = "must be a string of 1 to {1} characters")]
    string AgentId,
    [property: Required(ErrorMessage = "is required"), StringLength(DeviceLimits.MaxFaultLength, MinimumLength = 1, ErrorMessage = "must be a string of 1 to {1} characters")]
    string Text)
{
    public DeviceHeartbeat ToHeartbeat() => new(AgentId, Text);
}

/// <summary>A device as the API shows it.</summary>
/// <param name="Id">Its id.</param>
/// <param name="Kind">Its kind.</param>
/// <param name="Name">Its display name.</param>
/// <param name="Settings">Settings for its agent.</param>
/// <param name="HeartbeatTimeoutSeconds">Silence after which it is Offline.</param>
/// <param name="State">Online, Busy (its owner job runs on it), Faulted or Offline.</param>
/// <param name="Agent">The agent that serves it.</param>
/// <param name="LastHeartbeatAt">Its agent's last heartbeat.</param>
/// <param name="LastFault">The last fault its agent reported.</param>
/// <param name="Owner">The job that owns it (running on it, waiting for its agent, or paused on it).</param>
/// <param name="Waiting">The first jobs waiting for it, in the order they will get it.</param>
/// <param name="WaitingCount">How many jobs wait for it.</param>
/// <param name="Interrupted">Jobs it stopped (paused by a disconnect or a fault) that wait for it to come back or for an operator.</param>
/// <param name="Check">The last check requested of its agent, with the answer once it came.</param>
/// <param name="CreatedAt">When it was registered.</param>
/// <param name="UpdatedAt">When its definition last changed.</param>
/// <param name="Version">Incremented by every stored change.</param>
/// <param name="Silo">The silo its grain lives on (null when read from the table because that silo did not answer in time).</param>
public sealed record DeviceResponse(
    string Id, string Kind, string Name, JsonElement Settings, int HeartbeatTimeoutSeconds, DeviceHealth State, string? Agent,
    DateTimeOffset? LastHeartbeatAt, DeviceFault? LastFault, string? Owner, IReadOnlyList<string> Waiting, int WaitingCount,
    IReadOnlyList<string> Interrupted, DeviceCheck? Check, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, long Version, string? Silo = null)
{
    public static DeviceResponse From(DeviceSnapshot device, IReadOnlyList<string>? interrupted = null) => new(
        device.Id, device.Kind, device.Name, JsonDocument.Parse(device.SettingsJson).RootElement.Clone(), device.HeartbeatTimeoutSeconds, device.Health,
        device.Agent, device.LastHeartbeatAt, device.LastFault, device.Owner, device.Waiting, device.WaitingCount, interrupted ?? [], device.Check,
        device.CreatedAt, device.UpdatedAt, device.Version, device.Silo);
}

/// <summary>The answer to a heartbeat: the device, and a check to run (answer it in a later heartbeat).</summary>
/// <param name="Device">The device as it stands.</param>
/// <param name="CheckRequested">The id of a check an operator asked for; null when none is open.</param>
public sealed record DeviceHeartbeatResponse(DeviceResponse Device, string? CheckRequested);

/// <summary>A device in a listing.</summary>
/// <param name="Id">Its id.</param>
/// <param name="Kind">Its kind.</param>
/// <param name="Name">Its display name.</param>
/// <param name="State">Its health as last stored (heartbeats are not stored; changes of health are).</param>
/// <param name="StateSince">When it entered that state.</param>
/// <param name="Agent">The agent that serves it.</param>
/// <param name="Owner">The job the job index shows running on it or paused on it, if any.</param>
public sealed record DeviceSummary(string Id, string Kind, string Name, DeviceHealth State, DateTimeOffset StateSince, string? Agent, string? Owner);

/// <summary>A page of devices by id; pass <see cref="NextCursor"/> as <c>cursor</c> for the next page.</summary>
/// <param name="Items">The devices of this page.</param>
/// <param name="NextCursor">The <c>cursor</c> of the next page; null on the last page.</param>
public sealed record DevicePage(IReadOnlyList<DeviceSummary> Items, string? NextCursor);

/// <summary>Filters and page of <c>GET /api/devices</c>.</summary>
/// <param name="Kind">Only devices of this kind.</param>
/// <param name="State">Only devices in this state (Online, Busy, Faulted, Offline).</param>
/// <param name="Limit">Page size, 1 to 500 (default 50).</param>
/// <param name="Cursor">The <c>nextCursor</c> of the previous page.</param>
public sealed record ListDevicesQuery(
    [property: FromQuery(Name = "kind"), DeviceId] string? Kind = null,
    [property: FromQuery(Name = "state")] DeviceStateFilter? State = null,
    [property: FromQuery(Name = "limit"), Range(1, ListJobsQuery.MaxLimit, ErrorMessage = "must be a whole number from {1} to {2}")] int? Limit = null,
    [property: FromQuery(Name = "cursor"), DeviceId] string? Cursor = null);

/// <summary>A device state named in the <c>state</c> query value (exact names; numbers are refused).</summary>
public readonly record struct DeviceStateFilter(DeviceHealth Health) : INamedQueryValue
{
    public static IReadOnlyList<string> Names { get; } = Enum.GetNames<DeviceHealth>();

    public static bool TryParse(string? value, out DeviceStateFilter filter)
    {
        filter = default;
        if (value is null || !Names.Contains(value, StringComparer.Ordinal))
        {
            return false;
        }

        filter = new DeviceStateFilter(Enum.Parse<DeviceHealth>(value));
        return true;
    }
}

/// <summary>The one rule of a device's settings in a request: a JSON object that can be stored.</summary>
internal static class DeviceSettings
{
    public static IEnumerable<ValidationResult> Check(JsonElement? settings)
    {
        if (settings is { } value && (value.ValueKind != JsonValueKind.Object || !StorableJson.IsStorable(value)
            || value.GetRawText().Length > DeviceLimits.MaxSettingsLength))
        {
            yield return new ValidationResult($"must be a JSON object of at most {DeviceLimits.MaxSettingsLength} characters", ["settings"]);
        }
    }
}
