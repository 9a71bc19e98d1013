using OrleansJobs.Jobs;

namespace OrleansJobs.Devices;

/// <summary>A device's health as its agent shows it.</summary>
[GenerateSerializer, Alias("OrleansJobs.DeviceHealth")]
public enum DeviceHealth
{
    /// <summary>No heartbeat within the device's heartbeat timeout (or none yet).</summary>
    Offline = 0,

    /// <summary>Heartbeats come; no job runs on it.</summary>
    Online = 1,

    /// <summary>Heartbeats come; its owner job runs on it.</summary>
    Busy = 2,

    /// <summary>Its agent reported a fault; cleared by a heartbeat.</summary>
    Faulted = 3,
}

/// <summary>What a device is: a kind (job types name the kind they run on), a display name, settings for its agent, and how soon silence means Offline.</summary>
[GenerateSerializer, Immutable, Alias("OrleansJobs.DeviceDefinition")]
public sealed record DeviceDefinition(
    [property: Id(0)] string Kind,
    [property: Id(1)] string Name,
    [property: Id(2)] string SettingsJson,
    [property: Id(3)] int HeartbeatTimeoutSeconds = DeviceLimits.DefaultHeartbeatTimeoutSeconds);

/// <summary>A change of a device's name, settings or heartbeat timeout; null members stay as they are.</summary>
[GenerateSerializer, Immutable, Alias("OrleansJobs.DeviceUpdate")]
public sealed record DeviceUpdate(
    [property: Id(0)] string? Name,
    [property: Id(1)] string? SettingsJson,
    [property: Id(2)] int? HeartbeatTimeoutSeconds);

/// <summary>A fault an agent reported.</summary>
[GenerateSerializer, Immutable, Alias("OrleansJobs.DeviceFault")]
public sealed record DeviceFault([property: Id(0)] DateTimeOffset At, [property: Id(1)] string Text, [property: Id(2)] string Agent);

/// <summary>A check an operator asked for, and the agent's answer once it came.</summary>
[GenerateSerializer, Immutable, Alias("OrleansJobs.DeviceCheck")]
public sealed record DeviceCheck(
    [property: Id(0)] string Id,
    [property: Id(1)] DateTimeOffset RequestedAt,
    [property: Id(2)] string RequestedBy,
    [property: Id(3)] DateTimeOffset? AnsweredAt = null,
    [property: Id(4)] bool? Ok = null,
    [property: Id(5)] string? Detail = null);

/// <summary>An agent's heartbeat: who it is, a fault it sees (null: none), and its answer to a check request if it has one.</summary>
[GenerateSerializer, Immutable, Alias("OrleansJobs.DeviceHeartbeat")]
public sealed record DeviceHeartbeat(
    [property: Id(0)] string Agent,
    [property: Id(1)] string? Fault = null,
    [property: Id(2)] string? CheckId = null,
    [property: Id(3)] bool? CheckOk = null,
    [property: Id(4)] string? CheckDetail = null);

/// <summary>The answer to a heartbeat: the device as it stands, and a check for the agent to run (null: none).</summary>
[GenerateSerializer, Immutable, Alias("OrleansJobs.DeviceHeartbeatResult")]
public sealed record DeviceHeartbeatResult(
    [property: Id(0)] DeviceOutcome Outcome,
    [property: Id(1)] DeviceSnapshot? Device,
    [property: Id(2)] string? CheckRequested,
    [property: Id(3)] IReadOnlyList<JobParameterError> Errors);

/// <summary>A device as the API shows it.</summary>
[GenerateSerializer, Immutable, Alias("OrleansJobs.DeviceSnapshot")]
public sealed record DeviceSnapshot(
    [property: Id(0)] string Id,
    [property: Id(1)] string Kind,
    [property: Id(2)] string Name,
    [property: Id(3)] string SettingsJson,
    [property: Id(4)] int HeartbeatTimeoutSeconds,
    [property: Id(5)] DeviceHealth Health,
    [property: Id(6)] string? Agent,
    [property: Id(7)] DateTimeOffset? LastHeartbeatAt,
    [property: Id(8)] DeviceFault? LastFault,
    [property: Id(9)] string? Owner,
    [property: Id(10)] IReadOnlyList<string> Waiting,
    [property: Id(11)] int WaitingCount,
    [property: Id(12)] DeviceCheck? Check,
    [property: Id(13)] DateTimeOffset CreatedAt,
    [property: Id(14)] DateTimeOffset UpdatedAt,
    [property: Id(15)] long Version,
    [property: Id(16)] string? Silo = null);

[GenerateSerializer, Alias("OrleansJobs.DeviceOutcome")]
public enum DeviceOutcome
{
    Registered = 0,
    Existing = 1,
    Updated = 2,
    Invalid = 3,
    Conflict = 4,
    NotFound = 5,

    /// <summary>A job owns the device or waits for it.</summary>
    InUse = 6,

    /// <summary>Another agent serves the device.</summary>
    WrongAgent = 7,

    Removed = 8,
}

/// <summary>How a register, update or check request went; <see cref="Errors"/> name the request's fields.</summary>
[GenerateSerializer, Immutable, Alias("OrleansJobs.DeviceResult")]
public sealed record DeviceResult(
    [property: Id(0)] DeviceOutcome Outcome,
    [property: Id(1)] DeviceSnapshot? Device,
    [property: Id(2)] IReadOnlyList<JobParameterError> Errors);

/// <summary>How a removal went: the jobs in the way when refused.</summary>
[GenerateSerializer, Immutable, Alias("OrleansJobs.DeviceRemoveResult")]
public sealed record DeviceRemoveResult(
    [property: Id(0)] DeviceOutcome Outcome,
    [property: Id(1)] string? Owner,
    [property: Id(2)] IReadOnlyList<string> Waiting);
