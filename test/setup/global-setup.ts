// Placeholder until @fleet/services lands: the services helper replaces this file.
export default async function setup(): Promise<void> {}
