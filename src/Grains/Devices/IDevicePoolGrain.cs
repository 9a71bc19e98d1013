using OrleansJobs.Jobs.Resources;

namespace OrleansJobs.Devices;

/// <summary>
/// The devices of one kind (the grain key), for jobs that name a kind rather than a device: a job
/// waits here in priority-then-arrival order until a device of the kind is Online and free, then
/// owns that device (granted as <see cref="ResourceTicket.Assigned"/>). Silo-side only.
/// </summary>
[Alias("OrleansJobs.IDevicePoolGrain")]
public interface IDevicePoolGrain : IResourceGrain
{
    /// <summary>A device of the kind is Online with no owner and no job of its own waiting: the next job waiting here gets it.</summary>
    [Alias("DeviceFree")]
    Task DeviceFreeAsync(string deviceId);
}
