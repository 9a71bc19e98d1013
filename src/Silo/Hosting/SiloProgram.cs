namespace OrleansJobs.Silo.Hosting;

/// <summary>Runs the silo host until SIGTERM/Ctrl+C, turning start-up failures into exit codes.</summary>
public static class SiloProgram
{
    /// <summary>Exit code when the silo could not start (configuration, database, cluster).</summary>
    public const int StartFailed = 1;

    public static async Task<int> RunAsync(string[] args)
    {
        IHost host;
        try
        {
            var builder = Host.CreateApplicationBuilder(args);
            builder.AddOrleansJobsSilo();
            host = builder.Build();
        }
        catch (Exception ex) when (ex is InvalidOperationException or FormatException)
        {
            await Console.Error.WriteLineAsync($"error: {ex.Message}");
            return StartFailed;
        }

        using (host)
        {
            // Resolved up front: RunAsync disposes the service provider when it ends.
            var lifetime = host.Services.GetRequiredService<IHostApplicationLifetime>();
            var logger = host.Services.GetRequiredService<ILoggerFactory>().CreateLogger("OrleansJobs.Silo");
            var silo = host.Services.GetRequiredService<ILocalSiloDetails>();
            // Active in the membership table comes earlier, before the hosted services have started;
            // this line says the silo is fully up (and that a SIGTERM now is an ordinary stop).
            lifetime.ApplicationStarted.Register(() => logger.LogInformation("Silo started: {Silo}", silo.SiloAddress));
            try
            {
                await host.RunAsync();
                return 0;
            }
            catch (Exception ex) when (lifetime.ApplicationStopping.IsCancellationRequested)
            {
                logger.LogWarning("Stopped during start-up ({Error}: {Message})", ex.GetType().Name, ex.Message);
                // Asked to stop (SIGTERM) while still starting: Orleans cancelled its start-up
                // and has stopped what had started. That is a clean stop, not a crash.
                return 0;
            }
            catch (Exception ex)
            {
                logger.LogCritical(ex, "Silo failed: {Message}", ex.Message);
                return StartFailed;
            }
        }
    }
}
