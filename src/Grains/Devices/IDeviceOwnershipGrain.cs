using OrleansJobs.Jobs.Resources;

namespace OrleansJobs.Devices;

/// <summary>A device's ownership, as the jobs that need it see it: the lease protocol of every resource. Silo-side only.</summary>
[Alias("OrleansJobs.IDeviceOwnershipGrain")]
public interface IDeviceOwnershipGrain : IResourceGrain;
