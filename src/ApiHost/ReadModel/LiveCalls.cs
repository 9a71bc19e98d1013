namespace OrleansJobs.ApiHost.ReadModel;

/// <summary>Grain calls a read waits for only so long: a silo that does not answer must not hold a request.</summary>
internal static class LiveCalls
{
    /// <summary>
    /// The call's answer if it comes within <paramref name="timeout"/>; otherwise, or when the call fails
    /// (its silo is gone, the connection to it broke), no answer. A call left behind ends at the grain
    /// call timeout; nobody waits for it.
    /// </summary>
    public static async Task<(bool Answered, T? Value)> WithinAsync<T>(Task<T> call, TimeSpan timeout, CancellationToken cancellationToken)
    {
        try
        {
            return (true, await call.WaitAsync(timeout, cancellationToken));
        }
        catch (Exception ex) when (ex is not OutOfMemoryException && !cancellationToken.IsCancellationRequested)
        {
            _ = call.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            return (false, default);
        }
    }
}
