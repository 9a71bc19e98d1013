using OrleansJobs.Jobs.Resources;

namespace OrleansJobs.Libraries;

/// <summary>A library's lock, as the jobs that need it see it: the lease protocol of every resource. Silo-side only.</summary>
[Alias("OrleansJobs.ILibraryLockGrain")]
public interface ILibraryLockGrain : IResourceGrain;
