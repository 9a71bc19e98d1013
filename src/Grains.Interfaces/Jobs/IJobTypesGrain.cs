using Orleans.Concurrency;

namespace OrleansJobs.Jobs;

/// <summary>
/// The job types of the silo that answers (every silo registers the same types from the same
/// configuration). Lets clients apply the silos' rules, such as the stall timeout, without seeing
/// handler classes. Key 0.
/// </summary>
[Alias("OrleansJobs.IJobTypesGrain")]
public interface IJobTypesGrain : IGrainWithIntegerKey
{
    /// <summary>Every registered job type with its stall timeout, ordered by name.</summary>
    [ReadOnly, Alias("GetAll")]
    Task<IReadOnlyList<JobTypeInfo>> GetAllAsync();
}
