using Orleans.Concurrency;
using OrleansJobs.Jobs;

namespace OrleansJobs.Devices;

/// <summary>
/// A physical device (a pen plotter, say), keyed by its id: its definition, the health its agent
/// reports through heartbeats and faults, and its ownership, a lease held by one job at a time.
/// A job bound to the device runs on the device's agent only; when the device goes Offline or
/// faults under a job, the job is paused at once with its checkpoint, never handed elsewhere.
/// </summary>
[Alias("OrleansJobs.IDeviceGrain")]
public interface IDeviceGrain : IGrainWithStringKey
{
    /// <summary>Registers the device; the same definition again answers <see cref="DeviceOutcome.Existing"/>, a different one <see cref="DeviceOutcome.Conflict"/>.</summary>
    [Alias("Register")]
    Task<DeviceResult> RegisterAsync(DeviceDefinition definition, string actor);

    /// <summary>The device with its health, owner and waiting jobs; null when it is not registered.</summary>
    [AlwaysInterleave, Alias("Get")]
    Task<DeviceSnapshot?> GetAsync();

    /// <summary>Changes the name, settings or heartbeat timeout (never the kind: jobs were matched to it).</summary>
    [Alias("Update")]
    Task<DeviceResult> UpdateAsync(DeviceUpdate update, string actor);

    /// <summary>Removes the device; refused while a job owns it or waits for it.</summary>
    [Alias("Remove")]
    Task<DeviceRemoveResult> RemoveAsync(string actor);

    /// <summary>
    /// The agent is alive: the device is Online (Busy while its owner job runs), or Faulted while the
    /// agent reports a fault (a job running on it is paused at once). An agent's answer to a check
    /// request comes with it. A device back from Offline or Faulted tells the job it interrupted.
    /// Another agent is refused while the device is not Offline.
    /// </summary>
    [Alias("Heartbeat")]
    Task<DeviceHeartbeatResult> HeartbeatAsync(DeviceHeartbeat heartbeat);

    /// <summary>Asks the agent to check the device; the request goes out with the answer to its next heartbeat.</summary>
    [Alias("RequestCheck")]
    Task<DeviceResult> RequestCheckAsync(string actor);

    /// <summary>The device's agent claims the job that owns the device and waits for it; refused for any other agent.</summary>
    [Alias("Claim")]
    Task<WorkerClaimResult> ClaimAsync(string agent, TimeSpan? leaseDuration);

    /// <summary>
    /// Registers the device from an archive, under the rules of <see cref="RegisterAsync"/>, keeping its times and
    /// version; it is Offline until its agent is heard. A device that exists is left as it is (<see cref="DeviceOutcome.Existing"/>).
    /// </summary>
    [Alias("Import")]
    Task<DeviceResult> ImportAsync(ArchivedDevice device, string actor);
}
