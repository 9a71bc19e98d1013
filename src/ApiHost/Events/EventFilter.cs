using OrleansJobs.Events;

namespace OrleansJobs.ApiHost.Events;

/// <summary>Which events a stream wants: one job's, or all jobs' narrowed by job type, status, library and device.</summary>
public sealed record EventFilter(
    string? JobId = null, string? JobType = null, IReadOnlySet<string>? Statuses = null, string? LibraryId = null, string? DeviceId = null)
{
    public bool Matches(JobEvent e) =>
        (JobId is null || string.Equals(e.JobId, JobId, StringComparison.Ordinal))
        && (JobType is null || string.Equals(e.JobType, JobType, StringComparison.Ordinal))
        && (Statuses is null || e.Status is not null && Statuses.Contains(e.Status))
        && (LibraryId is null || string.Equals(e.LibraryId, LibraryId, StringComparison.Ordinal))
        && (DeviceId is null || string.Equals(e.DeviceId, DeviceId, StringComparison.Ordinal));
}
