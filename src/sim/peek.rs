//! What tests and benches read of a running simulator's state beyond [`Sim::image`]: the
//! keypairs, the public key a server was created with (what cloud-init would put in the build
//! VM's `authorized_keys`, so a test's sshd can stand in for the server), and the tokens issued
//! (to prove a recording holds none).

use super::Sim;

impl Sim {
    /// The names of every keypair, of every user.
    pub fn keypair_names(&self) -> Vec<String> {
        self.core
            .state
            .lock()
            .map(|st| st.keypairs.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// The public key of the keypair server `id` was created with (None: no such server, or it
    /// was created without a keypair, or the keypair is gone).
    pub fn server_public_key(&self, id: &str) -> Option<String> {
        let st = self.core.state.lock().ok()?;
        let name = st.servers.get(id)?.key_name.clone()?;
        st.keypairs.get(&name).map(|k| k.public_key.clone())
    }

    /// Every token value Keystone has issued and still knows (secrets: for asserting that none
    /// was written anywhere).
    pub fn issued_tokens(&self) -> Vec<String> {
        self.core
            .state
            .lock()
            .map(|st| st.tokens.keys().cloned().collect())
            .unwrap_or_default()
    }
}
