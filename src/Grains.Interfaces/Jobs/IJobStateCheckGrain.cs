using Orleans.Concurrency;

namespace OrleansJobs.Jobs;

/// <summary>
/// Checks archived job states before an import writes anything: whether each is a job state this cluster
/// can store. Only the silos know the whole state format (the API host sees <see cref="StoredJob"/>).
/// </summary>
[Alias("OrleansJobs.IJobStateCheckGrain")]
public interface IJobStateCheckGrain : IGrainWithIntegerKey
{
    /// <summary>For each (job id, state JSON) pair, null when the state is usable, else what is wrong with it.</summary>
    [AlwaysInterleave, Alias("Check")]
    Task<IReadOnlyList<string?>> CheckAsync(IReadOnlyList<string> jobIds, IReadOnlyList<string> states);
}
