namespace OrleansJobs.Jobs;

/// <summary>
/// What a job submission may ask for. The API host checks a request against these before it calls
/// a grain (so each error names its field), and the job grain checks every submission it gets
/// (so no other caller gets past them): one definition for both.
/// </summary>
public static class JobSubmissionLimits
{
    public const int MaxTypeLength = 64;
    public const int MinPriority = -1000;
    public const int MaxPriority = 1000;
    public const int MinMaxAttempts = 1;
    public const int MaxMaxAttempts = 100;
    public const int MinCheckpointEveryItems = 1;
    public const int MaxCheckpointEveryItems = 1_000_000;
    public const int MinCheckpointIntervalMs = 100;
    public const int MaxCheckpointIntervalMs = 3_600_000;
    public const int MaxIdempotencyKeyLength = 200;

    public const int MinLockWaitSeconds = 0;
    public const int MaxLockWaitSeconds = 86_400;

    /// <summary>How far ahead <see cref="JobSubmission.RunAfter"/> may be, in years.</summary>
    public const int MaxRunAfterYears = 1;

    /// <summary>
    /// Every way <paramref name="submission"/> breaks these limits, each naming its request field
    /// (<c>priority</c>, <c>checkpoint.everyItems</c>, ...); empty when it keeps them. The type's
    /// registration and its parameters are the silo's to check.
    /// </summary>
    public static IReadOnlyList<JobParameterError> Validate(JobSubmission submission, DateTimeOffset now)
    {
        var errors = new List<JobParameterError>();
        if (submission.Type is not { Length: > 0 and <= MaxTypeLength } || !StorableText.IsStorable(submission.Type))
        {
            errors.Add(new("type", $"must be a string of 1 to {MaxTypeLength} characters"));
        }

        if (submission.Priority is < MinPriority or > MaxPriority)
        {
            errors.Add(new("priority", $"must be a whole number from {MinPriority} to {MaxPriority}"));
        }

        if (submission.MaxAttempts is < MinMaxAttempts or > MaxMaxAttempts)
        {
            errors.Add(new("maxAttempts", $"must be a whole number from {MinMaxAttempts} to {MaxMaxAttempts}"));
        }

        if (submission.CheckpointEveryItems is < MinCheckpointEveryItems or > MaxCheckpointEveryItems)
        {
            errors.Add(new("checkpoint.everyItems", $"must be a whole number from {MinCheckpointEveryItems} to {MaxCheckpointEveryItems}"));
        }

        if (submission.CheckpointInterval is { } interval
            && (interval < TimeSpan.FromMilliseconds(MinCheckpointIntervalMs) || interval > TimeSpan.FromMilliseconds(MaxCheckpointIntervalMs)))
        {
            errors.Add(new("checkpoint.intervalMs", $"must be a whole number from {MinCheckpointIntervalMs} to {MaxCheckpointIntervalMs}"));
        }

        if (submission.IdempotencyKey is { } key && (key.Length is 0 or > MaxIdempotencyKeyLength || !StorableText.IsStorable(key)))
        {
            errors.Add(new("idempotencyKey", $"must be a string of 1 to {MaxIdempotencyKeyLength} characters"));
        }

        if (submission.Library is { } library && !Libraries.LibraryIds.IsValid(library))
        {
            errors.Add(new("library", $"must be a library id: {Libraries.LibraryIds.Rule}"));
        }

        if (submission.Device is { } device && !Devices.DeviceIds.IsValid(device))
        {
            errors.Add(new("device", $"must be a device id: {Devices.DeviceIds.Rule}"));
        }

        if (submission.DeviceKind is { } kind && !Devices.DeviceIds.IsValid(kind))
        {
            errors.Add(new("deviceKind", $"must be a device kind: {Devices.DeviceIds.Rule}"));
        }

        if (submission.Device is not null && submission.DeviceKind is not null)
        {
            errors.Add(new("deviceKind", "name a device or a device kind, not both"));
        }

        if (submission.LockWaitSeconds is { } lockWait)
        {
            if (lockWait is < MinLockWaitSeconds or > MaxLockWaitSeconds)
            {
                errors.Add(new("lockWaitSeconds", $"must be a whole number from {MinLockWaitSeconds} to {MaxLockWaitSeconds}"));
            }
            else if (submission.Library is null)
            {
                errors.Add(new("lockWaitSeconds", "applies only to a job that names a library"));
            }
        }

        if (submission.RunAfter is { } runAfter && runAfter >= now.AddYears(MaxRunAfterYears))
        {
            errors.Add(new("runAfter", "must be an ISO 8601 date and time with offset, less than a year ahead"));
        }

        return errors;
    }
}
