using OrleansJobs.Jobs.Resources;

namespace OrleansJobs.Devices;

/// <summary>A device's ownership, as the jobs that need it see it: the lease protocol of every resource. Silo-side only.</summary>
[Alias("OrleansJobs.IDeviceOwnershipGrain")]
public interface IDeviceOwnershipGrain : IResourceGrain
{
    /// <summary>The pool of the device's kind offers it a job: taken as owner only while the device is Online, ownerless and awaited by nobody.</summary>
    [Alias("TryAssign")]
    Task<bool> TryAssignAsync(string jobId);
}
