using OrleansJobs.Jobs.Resources;

namespace OrleansJobs.Libraries;

/// <summary>A library's lock, as the jobs that need it see it: the lease protocol of every resource. Silo-side only.</summary>
[Alias("OrleansJobs.ILibraryLockGrain")]
public interface ILibraryLockGrain : IResourceGrain
{
    /// <summary>
    /// Settles the file operations a job that ended left in progress, from what the disk shows, while
    /// the library holds its own lock (no job runs on it meanwhile). Returns how many were settled; null
    /// when a job holds the lock now (the next validator run tries again) or the library does not exist.
    /// </summary>
    [Alias("SettleOperations")]
    Task<int?> SettleOperationsAsync(string jobId);
}
