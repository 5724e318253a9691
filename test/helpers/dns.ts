import dns2 from 'dns2';

const { Packet } = dns2;

/** A DNS server on loopback (the real wire format, over UDP) that answers TXT questions from a table. */
export interface TestDns {
  /** `127.0.0.1:port`, for GATEHOUSE_DNS_SERVERS. */
  server: string;
  publish(name: string, value: string): void;
  /** How many questions it was asked for this name. */
  asked(name: string): number;
  close(): Promise<void>;
}

export async function startDns(): Promise<TestDns> {
  const records = new Map<string, string[]>();
  const questions = new Map<string, number>();
  const server = dns2.createServer({
    udp: true,
    handle: (request, send) => {
      const response = Packet.createResponseFromRequest(request);
      const [question] = request.questions;
      const name = question.name.toLowerCase();
      questions.set(name, (questions.get(name) ?? 0) + 1);
      // A name with no records answers with none (NODATA), as a real zone does.
      // The package encodes a plain record (its own examples push these); its types ask for the class.
      for (const data of records.get(name) ?? []) {
        response.answers.push({ name: question.name, type: Packet.TYPE.TXT, class: Packet.CLASS.IN, ttl: 1, data } as (typeof response.answers)[number]);
      }
      send(response);
    },
  });
  const addresses = await server.listen({ udp: { port: 0, address: '127.0.0.1' } });
  return {
    server: `127.0.0.1:${addresses.udp!.port}`,
    publish: (name, value) => records.set(name.toLowerCase(), [...(records.get(name.toLowerCase()) ?? []), value]),
    asked: (name) => questions.get(name.toLowerCase()) ?? 0,
    close: () => server.close(),
  };
}
