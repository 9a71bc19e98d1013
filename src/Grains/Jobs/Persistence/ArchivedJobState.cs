using System.Text.Json;

namespace OrleansJobs.Jobs.Persistence;

/// <summary>A job state as an archive carries it: the JSON of the job's grain state, read and checked before anything is stored.</summary>
internal static class ArchivedJobState
{
    /// <summary>The state, or what is wrong with it (a message that names the member, as <c>state.status</c>).</summary>
    public static (JobState? State, string? Error) Read(string jobId, string json)
    {
        JobState? state;
        try
        {
            state = JsonSerializer.Deserialize<JobState>(json, StoredJob.JsonOptions);
        }
        catch (JsonException ex)
        {
            return (null, $"state{ex.Path?.TrimStart('$')}: is not part of a job state this cluster can read ({FirstSentence(ex.Message)})");
        }

        var error = state switch
        {
            null => "state: must be a JSON object",
            { Exists: false } => "state.Exists: must be true",
            _ when string.IsNullOrWhiteSpace(state.Type) => "state.Type: must name the job type",
            { Version: < 1 } => "state.Version: must be 1 or more",
            _ when !Enum.IsDefined(state.Status) => "state.Status: is not a job status",
            _ when state.CreatedAt == default => "state.CreatedAt: is required",
            _ when state.Outbox.Any(e => e.JobId != jobId || e.Seq < 1) => $"state.Outbox: every entry must belong to job {jobId} and have a seq of 1 or more",
            _ => null,
        };
        return error is null ? (state, null) : (null, error);
    }

    private static string FirstSentence(string message)
    {
        var end = message.IndexOf(". ", StringComparison.Ordinal);
        return end < 0 ? message.TrimEnd('.') : message[..end];
    }
}
