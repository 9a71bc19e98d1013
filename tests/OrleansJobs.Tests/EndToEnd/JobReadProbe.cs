using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;

namespace OrleansJobs.Tests.EndToEnd;

/// <summary>One read of a job through the API during a failure.</summary>
public sealed record JobReadSample(string JobId, TimeSpan Took, int Status, bool SiloUnreachable, long Processed);

/// <summary>
/// Reads jobs through the API, one after another, while a silo is killed or frozen: every read must
/// answer within a second, from the live job or from its stored state.
/// </summary>
public sealed class JobReadProbe : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task<List<JobReadSample>> _reading;

    public JobReadProbe(HttpClient http, IReadOnlyList<string> jobs, params string[] alsoRead)
    {
        _reading = Task.Run(() => ReadAsync(http, jobs, alsoRead, _stop.Token));
    }

    /// <summary>Stops reading and returns every read made.</summary>
    public async Task<List<JobReadSample>> StopAsync()
    {
        await _stop.CancelAsync();
        return await _reading;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _reading;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            // The test failed earlier; its own assertion says why.
        }

        _stop.Dispose();
    }

    private static async Task<List<JobReadSample>> ReadAsync(HttpClient http, IReadOnlyList<string> jobs, string[] alsoRead, CancellationToken stop)
    {
        var samples = new List<JobReadSample>();
        for (var i = 0; !stop.IsCancellationRequested; i++)
        {
            var clock = Stopwatch.StartNew();
            var id = jobs[i % jobs.Count];
            using (var response = await http.GetAsync(new Uri($"/api/jobs/{id}", UriKind.Relative), CancellationToken.None))
            {
                var took = clock.Elapsed;
                var unreachable = false;
                long processed = -1;
                if (response.IsSuccessStatusCode)
                {
                    var job = await response.Content.ReadFromJsonAsync<JsonElement>(CancellationToken.None);
                    unreachable = job.GetProperty("siloUnreachable").GetBoolean();
                    processed = job.GetProperty("checkpoint").GetProperty("processed").GetInt64();
                }

                samples.Add(new JobReadSample(id, took, (int)response.StatusCode, unreachable, processed));
            }

            if (i % jobs.Count == 0)
            {
                // The other reads that must never wait on a silo: lists, recovery status.
                foreach (var path in alsoRead)
                {
                    clock.Restart();
                    using var response = await http.GetAsync(new Uri(path, UriKind.Relative), CancellationToken.None);
                    samples.Add(new JobReadSample(path, clock.Elapsed, (int)response.StatusCode, false, -1));
                }
            }

            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(25), stop);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        return samples;
    }
}
