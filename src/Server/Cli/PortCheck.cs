using System.Net;
using System.Net.Sockets;

namespace InferenceServer.Server.Cli;

/// <summary>
/// Checks that the REST and gRPC ports can be bound before the model loads, so a port in use costs one line and
/// exit code 2 instead of a load followed by Kestrel's stack trace. Port 0 (any free port) is not checked.
/// </summary>
public static class PortCheck
{
    /// <exception cref="ArgumentException">A port is taken; the message names it and the flag that moves it.</exception>
    public static void EnsureFree(string host, params (int Port, string Flag)[] ports)
    {
        var address = host is "0.0.0.0" or "*" ? IPAddress.Any
            : host == "localhost" ? IPAddress.Loopback
            : IPAddress.TryParse(host, out var parsed) ? parsed
            : throw new ArgumentException($"--host {host}: not an IP address (use 0.0.0.0, 127.0.0.1, localhost or another address of this machine).");
        var taken = ports.Where(p => p.Port != 0).GroupBy(p => p.Port).FirstOrDefault(g => g.Count() > 1);
        if (taken is not null)
            throw new ArgumentException($"{string.Join(" and ", taken.Select(p => p.Flag))} are both {taken.Key}; give each its own port.");
        foreach (var (port, flag) in ports)
        {
            if (port == 0) continue;
            if (port is < 0 or > 65535) throw new ArgumentException($"{flag} {port}: a port is between 0 and 65535.");
            var listener = new TcpListener(address, port);
            try
            {
                listener.Start();
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
            {
                throw new ArgumentException($"port {port} on {host} is already in use by another process; stop it or choose another port with {flag} N.");
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.AccessDenied or SocketError.AddressNotAvailable)
            {
                throw new ArgumentException($"cannot listen on {host}:{port} ({e.Message}); choose another {(e.SocketErrorCode == SocketError.AccessDenied ? $"port with {flag} N" : "address with --host")}.");
            }
            finally
            {
                listener.Stop();
            }
        }
    }
}
