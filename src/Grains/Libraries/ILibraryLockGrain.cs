using OrleansJobs.Jobs.Resources;

namespace OrleansJobs.Libraries;

/// <summary>A library's lock, as the jobs that need it see it: the lease protocol of every resource. Silo-side only.</summary>
[Alias("OrleansJobs.ILibraryLockGrain")]
public interface ILibraryLockGrain : IResourceGrain
{
    /// <summary>
    /// Settles the file operations a job that ended left in progress, from what the disk shows, while no
    /// job holds the lock (none is granted it meanwhile) and no delete runs. Returns how many were settled;
    /// null when a job holds the lock now (the next validator run tries again) or the library does not exist.
    /// </summary>
    /// <remarks>Hashing the files of a batch may take a while: the call may take up to 10 minutes.</remarks>
    [Alias("SettleOperations"), ResponseTimeout("00:10:00")]
    Task<int?> SettleOperationsAsync(string jobId);
}
