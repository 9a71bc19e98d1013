using System.Diagnostics;

namespace OrleansJobs.Harness;

/// <summary>Waits on conditions with a deadline, never on a sleep alone.</summary>
public static class Wait
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Polls <paramref name="condition"/> until it holds; fails naming what was awaited and what was last seen.</summary>
    public static async Task UntilAsync(
        string what, Func<Task<bool>> condition, TimeSpan? timeout = null, Func<Task<string>>? describe = null, TimeSpan? poll = null)
    {
        var limit = timeout ?? DefaultTimeout;
        var clock = Stopwatch.StartNew();
        Exception? lastError = null;
        while (true)
        {
            try
            {
                if (await condition())
                {
                    return;
                }

                lastError = null;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                lastError = ex;
            }

            if (clock.Elapsed > limit)
            {
                var seen = describe is null ? "" : $" Last seen: {await SafeDescribe(describe)}.";
                var error = lastError is null ? "" : $" Last error: {lastError.GetType().Name}: {lastError.Message}";
                throw new TimeoutException($"Timed out after {limit.TotalSeconds:0.#} s waiting for {what}.{seen}{error}");
            }

            await Task.Delay(poll ?? TimeSpan.FromMilliseconds(100));
        }
    }

    /// <summary>Polls <paramref name="probe"/> until its value satisfies <paramref name="accept"/>, and returns that value.</summary>
    public static async Task<T> ForAsync<T>(string what, Func<Task<T>> probe, Func<T, bool> accept, TimeSpan? timeout = null, TimeSpan? poll = null)
    {
        T last = default!;
        var hasValue = false;
        await UntilAsync(what, async () =>
        {
            last = await probe();
            hasValue = true;
            return accept(last);
        }, timeout, () => Task.FromResult(hasValue ? last?.ToString() ?? "null" : "nothing yet"), poll);
        return last;
    }

    private static async Task<string> SafeDescribe(Func<Task<string>> describe)
    {
        try
        {
            return await describe();
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            return $"(could not describe: {ex.Message})";
        }
    }
}
