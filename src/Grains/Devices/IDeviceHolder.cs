namespace OrleansJobs.Devices;

/// <summary>A job as its device sees it: told when the device stops it and when the device is back. Silo-side only.</summary>
[Alias("OrleansJobs.IDeviceHolder")]
public interface IDeviceHolder : IGrainWithStringKey
{
    /// <summary>The device went Offline or faulted: a job running on it is paused at once (<paramref name="cause"/>: heartbeat_lost, or the fault's text).</summary>
    [Alias("DeviceInterrupted")]
    Task DeviceInterruptedAsync(string deviceId, string cause);

    /// <summary>The device is back: a job it interrupted continues if its type says so.</summary>
    [Alias("DeviceBack")]
    Task DeviceBackAsync(string deviceId);
}
