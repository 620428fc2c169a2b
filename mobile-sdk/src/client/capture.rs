//! Capture: households, visits and discovery reports read and written on the phone, offline.

use super::session::META_IDENTITY_KEY;
use super::*;

impl Inner {
    pub(crate) fn actor_and_account(&self) -> Result<(automerge::ActorId, AccountInfo)> {
        let s = self.session()?;
        let actor = device_actor(&s.account.device_id)
            .ok_or_else(|| DoudiError::internal("device id is not 32 hex characters"))?;
        Ok((actor, s.account))
    }

    /// Create a document and store it in one transaction.
    /// A number typed in at `field`, checked and sealed to the server's key (from the login
    /// answer): documents never hold it in clear.
    pub(crate) fn capture(&self, field: &str, s: Option<&str>) -> Result<Captured> {
        let Some(n) = id_number(field, s)? else {
            return Ok(None);
        };
        let key = self
            .store()
            .meta::<String>(META_IDENTITY_KEY)?
            .and_then(|k| SealKey::parse_hex(&k))
            .ok_or_else(|| {
                DoudiError::invalid(
                    field,
                    "本机尚未取得加密身份证号的密钥，请联网登录后再录入",
                    "this phone has not received the key that ID numbers are sealed with: log in online first",
                )
            })?;
        let sealed = key.seal(&n);
        Ok(Some((n, sealed)))
    }

    pub(super) fn create<C: DocumentContent>(&self, scope: &str, content: &C) -> Result<String> {
        self.create_with(scope, content, &[])
    }

    /// [`Inner::create`], keeping the clear numbers the document holds sealed (`(entry,
    /// number)`) in the same transaction.
    pub(super) fn create_with<C: DocumentContent>(
        &self,
        scope: &str,
        content: &C,
        numbers: &[(String, &IdNumber)],
    ) -> Result<String> {
        let mut issues = Vec::new();
        content.validate(&mut issues);
        if let Some(e) = first_error(&issues) {
            return Err(e);
        }
        let (actor, _) = self.actor_and_account()?;
        let id = DocumentId::generate().map_err(DoudiError::internal)?;
        let mut d = doc::create(id, scope, content, Some(actor))?;
        let id = id.to_string();
        let kind = C::KIND.as_str();
        let s = summary::summarize(kind, scope, &d)?;
        self.store().write(|w| {
            w.put_doc(&id, kind, scope, &mut d, None, &[], s)?;
            for (entry, n) in numbers {
                w.put_identity(&id, entry, n.expose())?;
            }
            Ok(())
        })?;
        Ok(id)
    }

    /// Read, change and store a document in one transaction; `extra` writes alongside it.
    pub(crate) fn edit<C: DocumentContent, T>(
        &self,
        id: &str,
        f: impl FnOnce(&mut C) -> Result<T>,
        extra: impl FnOnce(&mut Writer<'_>) -> Result<()>,
    ) -> Result<T> {
        let (actor, _) = self.actor_and_account()?;
        let mut store = self.store();
        let what = C::KIND.as_str();
        let mut sd = store
            .load_doc(id)?
            .filter(|sd| sd.kind == what)
            .ok_or_else(|| DoudiError::not_found(what, id))?;
        let (_, mut content) = doc::read::<C, _>(&sd.doc)?;
        let out = f(&mut content)?;
        sd.doc.set_actor(actor);
        doc::write(&mut sd.doc, &content)?;
        // Each change carries the phone's time (unix ms): the console shows a visit's reviewer
        // the household changes its investigators made during the visit by this time.
        sd.doc
            .commit_with(automerge::transaction::CommitOptions::default().with_time(now_ms()));
        let s = summary::summarize(what, &sd.scope, &sd.doc)?;
        store.write(|w| {
            w.put_doc(id, what, &sd.scope, &mut sd.doc, None, &sd.acked, s)?;
            extra(w)
        })?;
        Ok(out)
    }

    pub(super) fn edit_visit<T>(
        &self,
        id: &str,
        f: impl FnOnce(&mut Visit) -> Result<T>,
        extra: impl FnOnce(&mut Writer<'_>) -> Result<()>,
    ) -> Result<T> {
        self.edit::<Visit, T>(
            id,
            |v| {
                if !v.status.phone_may_edit() {
                    return Err(DoudiError::Conflict {
                        error_code: "visit.not_editable".into(),
                        message_zh: format!("走访记录{}，不能再修改", v.status.label_zh()),
                        message_en: format!("the visit is {}; it cannot change", v.status.as_str()),
                    });
                }
                f(v)
            },
            extra,
        )
    }

    /// An edit of a visit that cannot fail by itself.
    pub(super) fn change_visit(&self, id: &str, f: impl FnOnce(&mut Visit)) -> Result<()> {
        self.edit_visit(
            id,
            |v| {
                f(v);
                Ok(())
            },
            |_| Ok(()),
        )
    }

    pub(crate) fn read<C: DocumentContent>(&self, id: &str) -> Result<(String, C)> {
        let what = C::KIND.as_str();
        let sd = self
            .store()
            .load_doc(id)?
            .filter(|sd| sd.kind == what)
            .ok_or_else(|| DoudiError::not_found(what, id))?;
        let (_, c) = doc::read::<C, _>(&sd.doc)?;
        Ok((sd.scope, c))
    }

    pub(super) fn default_grid(&self, account: &AccountInfo) -> Result<String> {
        account
            .regions
            .first()
            .cloned()
            .ok_or_else(|| DoudiError::invalid("grid", "请选择网格", "choose the grid"))
    }
}

#[uniffi::export]
impl DoudiClient {
    /// Households on this phone, by address; `query` searches the name of any member, the
    /// address, or the last 4–6 characters of an ID number. Offline.
    pub fn households(&self, query: String) -> Vec<HouseholdSummary> {
        let store = self.inner.store();
        let mut out: Vec<HouseholdSummary> = store
            .index
            .iter()
            .filter_map(|(id, s)| match s {
                Summary::Household(h) if summary::matches(h, &query) => {
                    Some(household_summary(id, h))
                }
                _ => None,
            })
            .collect();
        out.sort_by(|a, b| a.address.cmp(&b.address).then(a.id.cmp(&b.id)));
        out
    }

    /// One household with its members and visits. Offline.
    pub fn household(&self, id: String) -> Result<HouseholdDetail> {
        let (scope, h) = self.inner.read::<Household>(&id)?;
        let mut visits: Vec<VisitSummary> = self
            .inner
            .store()
            .index
            .iter()
            .filter_map(|(vid, s)| match s {
                Summary::Visit(v) if v.household == id => Some(visit_summary(vid, v)),
                _ => None,
            })
            .collect();
        visits.sort_by_key(|v| std::cmp::Reverse(v.started_at));
        let held = self.inner.store().identities(&id)?;
        let members = h
            .members
            .iter()
            .map(|(mid, m)| MemberInfo {
                id: mid.to_string(),
                name: m.name.clone(),
                id_number_masked: m.identity.as_ref().map(|n| n.masked.to_string()),
                // Shown only while the document still holds that number.
                id_number: m.identity.as_ref().and_then(|sealed| {
                    held.get(&format!("{}.{mid}", household_key::MEMBERS))
                        .filter(|n| n.masked() == sealed.masked.as_str())
                        .map(|n| n.expose().to_owned())
                }),
                relation: m.relation.as_str().to_owned(),
                relation_label: m.relation.label_zh().to_owned(),
                current: m.is_current(),
            })
            .collect();
        Ok(HouseholdDetail {
            summary: household_summary(&id, &summary::household_idx(&scope, &h)),
            hukou_type: h.hukou_type.map(|t| t.label_zh().to_owned()),
            registered_address: h.registered_address.clone(),
            members,
            visits,
        })
    }

    /// Register a household found in the field (新增户), with its head. `grid` defaults to the
    /// account's first region. Returns the household id.
    pub fn create_household(
        &self,
        grid: Option<String>,
        address: String,
        head_name: String,
        head_id_number: Option<String>,
    ) -> Result<String> {
        let (_, account) = self.inner.actor_and_account()?;
        let grid = match grid {
            Some(g) => g,
            None => self.inner.default_grid(&account)?,
        };
        if address.trim().is_empty() {
            return Err(DoudiError::invalid(
                "address",
                "请填写地址",
                "the address is required",
            ));
        }
        let mut head = Member::new(head_name.trim(), Relation::Head);
        let captured = self
            .inner
            .capture("head_id_number", head_id_number.as_deref())?;
        head.identity = captured.as_ref().map(|(_, s)| s.clone());
        let mut h = Household {
            address: address.trim().to_owned(),
            ..Default::default()
        };
        let head_id = MemberId::generate().map_err(DoudiError::internal)?;
        h.members.insert(head_id, head);
        let numbers: Vec<(String, &IdNumber)> = captured
            .iter()
            .map(|(n, _)| (format!("{}.{head_id}", household_key::MEMBERS), n))
            .collect();
        self.inner.create_with(&grid, &h, &numbers)
    }

    /// Start a visit to a household; the logged-in user is its first investigator and the start
    /// time is now. Returns the visit id.
    pub fn start_visit(&self, household_id: String, purpose: VisitPurpose) -> Result<String> {
        if purpose == VisitPurpose::DiscoveryCheck {
            return Err(DoudiError::invalid(
                "purpose",
                "主动发现核查请从所核实的报告开始",
                "start a discovery check from the report it verifies (start_report_visit)",
            ));
        }
        self.inner
            .start_visit(&household_id, |hid| (Visit::new(hid, purpose.into()), None))
    }

    /// Start the investigation (入户调查) of an application for `applied_for` (申请救助类别) to a
    /// household: a visit like [`Self::start_visit`] that names the programme, which the county's
    /// decision defaults to. Offline.
    pub fn start_application_visit(
        &self,
        household_id: String,
        applied_for: AppliedFor,
    ) -> Result<String> {
        self.inner.start_visit(&household_id, |hid| {
            let mut v = Visit::new(hid, doudi_protocol::doc::visit::Purpose::Investigation);
            v.applied_for = Some(applied_for.into());
            (v, None)
        })
    }

    /// Start a 主动发现核查 (discovery check) of `household_id` verifying the discovery report
    /// `report_id`; both must be held and in the same grid. Offline.
    pub fn start_report_visit(&self, report_id: String, household_id: String) -> Result<String> {
        let rid = parse_doc_id("report_id", &report_id)?;
        let report_grid = match self.inner.store().load_doc(&report_id)? {
            Some(held) if held.kind == DocumentKind::DiscoveryReport.as_str() => held.scope,
            _ => return Err(DoudiError::not_found("report", &report_id)),
        };
        self.inner.start_visit(&household_id, |hid| {
            let mut v = Visit::new(hid, doudi_protocol::doc::visit::Purpose::DiscoveryCheck);
            v.report = Some(rid);
            (v, Some(report_grid))
        })
    }
}

impl Inner {
    /// A draft visit of `household_id` made by `make` (from the household's id; with the grid
    /// the visit must also match, if any), started now with this account as its first
    /// investigator.
    pub(super) fn start_visit(
        &self,
        household_id: &str,
        make: impl FnOnce(DocumentId) -> (Visit, Option<String>),
    ) -> Result<String> {
        let hid = parse_doc_id("household_id", household_id)?;
        let grid = match self.store().index.get(household_id) {
            Some(Summary::Household(h)) => h.grid.clone(),
            _ => return Err(DoudiError::not_found("household", household_id)),
        };
        let (mut v, must_match) = make(hid);
        if must_match.is_some_and(|g| g != grid) {
            return Err(DoudiError::invalid(
                "household_id",
                "所核实的报告与家庭不在同一网格",
                "the report and the household lie in different grids",
            ));
        }
        let (_, account) = self.actor_and_account()?;
        v.started_at = Some(UnixMillis(now_ms()));
        if let Ok(a) = AccountId::parse(&account.id) {
            v.investigators.insert(
                a,
                Investigator {
                    name: account.display_name.clone(),
                },
            );
        }
        self.create(&grid, &v)
    }
}

#[uniffi::export]
impl DoudiClient {
    /// A visit in full. Offline.
    pub fn visit(&self, id: String) -> Result<VisitDetail> {
        let (scope, v) = self.inner.read::<Visit>(&id)?;
        let case_clock = self.inner.case_clock_of(&scope, &v)?;
        let pending: std::collections::BTreeSet<String> = self
            .inner
            .store()
            .pending_blobs()?
            .into_iter()
            .map(|b| b.hash)
            .collect();
        Ok(VisitDetail {
            summary: visit_summary(&id, &summary::visit_idx(&v)),
            report_id: v.report.map(|r| r.to_string()),
            applied_for: v.applied_for.and_then(AppliedFor::of),
            application: v.application.as_ref().map(|a| ApplicationInput {
                accepted_on: a.accepted_on.to_string(),
                channel: a.channel.into(),
                proxy_name: a.proxy_name.clone(),
                authorisation_photo: a.authorisation.as_ref().map(|h| h.to_string()),
                pledge_signed: a.pledge_signed,
                data_check_authorised: a.data_check_authorised,
                kin_filing: a.kin_filing,
            }),
            case_stage: doudi_protocol::doc::UnixMillis(super::now_ms())
                .china_date()
                .and_then(|today| v.case_stage(today))
                .map(Into::into),
            case_clock,
            ended_at: v.ended_at.map(|t| t.0),
            investigators: v
                .investigators
                .iter()
                .map(|(a, i)| InvestigatorInput {
                    account_id: a.to_string(),
                    name: i.name.clone(),
                })
                .collect(),
            living: LivingConditions {
                food: v.living.food.clone(),
                clothing: v.living.clothing.clone(),
                housing: v.living.housing.clone(),
                daily_goods: v.living.daily_goods.clone(),
            },
            conclusion: v.conclusion.map(Conclusion::from),
            conclusion_notes: v.conclusion_notes.clone(),
            photos: v
                .photos
                .iter()
                .map(|(h, p)| AttachmentInfo {
                    hash: h.to_string(),
                    category: p.category.as_str().to_owned(),
                    caption: p.caption.clone(),
                    at: Some(p.captured_at.0),
                    uploaded: !pending.contains(&h.to_string()),
                })
                .collect(),
            signatures: v
                .signatures
                .iter()
                .map(|(h, s)| AttachmentInfo {
                    hash: h.to_string(),
                    category: s.role.as_str().to_owned(),
                    caption: Some(s.signer_name.clone()),
                    at: s.signed_at.map(|t| t.0),
                    uploaded: !pending.contains(&h.to_string()),
                })
                .collect(),
        })
    }

    /// Replace the investigators (调查人员) of a visit.
    pub fn set_investigators(
        &self,
        visit_id: String,
        investigators: Vec<InvestigatorInput>,
    ) -> Result<()> {
        let mut map = BTreeMap::new();
        for i in investigators {
            let a = AccountId::parse(&i.account_id).map_err(|_| {
                DoudiError::invalid("investigators", "调查人员账号不正确", "not an account id")
            })?;
            map.insert(a, Investigator { name: i.name });
        }
        self.inner.change_visit(&visit_id, |v| {
            v.investigators = map;
        })
    }

    /// Start and end time (Unix milliseconds).
    pub fn set_visit_times(
        &self,
        visit_id: String,
        started_at: Option<i64>,
        ended_at: Option<i64>,
    ) -> Result<()> {
        self.inner.change_visit(&visit_id, |v| {
            v.started_at = started_at.map(UnixMillis);
            v.ended_at = ended_at.map(UnixMillis);
        })
    }

    /// What the visit found about a member on record (在场, 核实, 减员).
    pub fn set_member_check(&self, visit_id: String, check: MemberCheckInput) -> Result<()> {
        let mid = MemberId::parse(&check.member_id)
            .map_err(|_| DoudiError::invalid("member_id", "成员编号不正确", "not a member id"))?;
        self.inner.change_visit(&visit_id, |v| {
            v.member_checks.insert(
                mid,
                MemberCheck {
                    present: check.present,
                    confirmed: check.confirmed,
                    removed: check.removed,
                    removal_reason: check.removal_reason,
                    not_signed_reason: check.not_signed_reason,
                    note: check.note,
                },
            );
        })
    }

    /// A person found at the visit who is not on record (增员): recorded on the visit and added to
    /// the household record under the same id (then `set_member_details` records their
    /// circumstances). Returns the new member's id.
    pub fn add_member(&self, visit_id: String, member: NewMemberInput) -> Result<String> {
        let relation = Relation::parse(&member.relation).ok_or_else(|| {
            DoudiError::invalid("relation", "与户主关系不正确", "unknown relation code")
        })?;
        let captured = self
            .inner
            .capture("id_number", member.id_number.as_deref())?;
        let mid = MemberId::generate().map_err(DoudiError::internal)?;
        let (_, visit) = self.inner.read::<Visit>(&visit_id)?;
        if !visit.status.phone_may_edit() {
            return Err(DoudiError::Conflict {
                error_code: "visit.not_editable".into(),
                message_zh: format!("走访记录{}，不能再修改", visit.status.label_zh()),
                message_en: format!("the visit is {}; it cannot change", visit.status.as_str()),
            });
        }
        // The member goes into the household record at once, under the id the visit records
        // the 增员 with (what a visit finds is written into the household record: docs/REVIEW.md).
        // Two documents, two transactions: the household first, so that a member the visit
        // names is always on record.
        let household_id = visit.household.to_string();
        let household_entry = format!("{}.{mid}", household_key::MEMBERS);
        self.inner.edit::<Household, ()>(
            &household_id,
            |h| {
                let mut m = Member::new(member.name.trim(), relation);
                m.identity = captured.as_ref().map(|(_, s)| s.clone());
                h.members.insert(mid, m);
                Ok(())
            },
            |w| match &captured {
                Some((n, _)) => w.put_identity(&household_id, &household_entry, n.expose()),
                None => Ok(()),
            },
        )?;
        let entry = format!("{}.{mid}", visit_key::MEMBERS_ADDED);
        self.inner.edit_visit(
            &visit_id,
            |v| {
                v.members_added.insert(
                    mid,
                    AddedMember {
                        name: member.name,
                        identity: captured.as_ref().map(|(_, s)| s.clone()),
                        relation,
                        note: member.note,
                    },
                );
                Ok(())
            },
            |w| match &captured {
                Some((n, _)) => w.put_identity(&visit_id, &entry, n.expose()),
                None => Ok(()),
            },
        )?;
        Ok(mid.to_string())
    }

    /// Living conditions seen (吃穿住用).
    pub fn set_living_conditions(&self, visit_id: String, living: LivingConditions) -> Result<()> {
        self.inner.change_visit(&visit_id, |v| {
            v.living.food = living.food;
            v.living.clothing = living.clothing;
            v.living.housing = living.housing;
            v.living.daily_goods = living.daily_goods;
        })
    }

    /// Income or an asset as declared and as seen. Returns the note's id.
    pub fn add_income_note(&self, visit_id: String, note: IncomeNoteInput) -> Result<String> {
        if note.declared_fen.is_some_and(|v| v < 0) || note.observed_fen.is_some_and(|v| v < 0) {
            return Err(DoudiError::invalid(
                "amount",
                "金额不能为负数",
                "an amount must not be negative",
            ));
        }
        let eid = EntryId::generate().map_err(DoudiError::internal)?;
        self.inner.change_visit(&visit_id, |v| {
            v.comparisons.insert(
                eid,
                Comparison {
                    subject: if note.is_asset {
                        ComparisonSubject::Asset
                    } else {
                        ComparisonSubject::Income
                    },
                    description: note.description,
                    declared_fen: note.declared_fen,
                    observed_fen: note.observed_fen,
                    note: note.note,
                },
            );
        })?;
        Ok(eid.to_string())
    }

    /// The application this investigation belongs to, as the township accepted it (申请受理:
    /// the day, how it came, 代办 with its 委托书, the pledge, the data-check authorisation,
    /// 近亲属备案). Only on an investigation. Offline.
    pub fn set_application(&self, visit_id: String, application: ApplicationInput) -> Result<()> {
        let accepted_on = chrono::NaiveDate::parse_from_str(&application.accepted_on, "%Y-%m-%d")
            .map_err(|_| {
            DoudiError::invalid(
                "accepted_on",
                "受理日期格式应为 YYYY-MM-DD",
                "the acceptance day is written YYYY-MM-DD",
            )
        })?;
        let authorisation = application
            .authorisation_photo
            .as_deref()
            .map(|h| {
                BlobHash::parse(h).map_err(|_| {
                    DoudiError::invalid(
                        "authorisation_photo",
                        "委托书须为本次走访已拍摄的照片",
                        "the power of attorney must be one of the visit's photos",
                    )
                })
            })
            .transpose()?;
        self.inner.edit_visit(
            &visit_id,
            |v| {
                if v.purpose != doudi_protocol::doc::visit::Purpose::Investigation {
                    return Err(DoudiError::invalid(
                        "visit_id",
                        "只有入户调查可以记录申请受理",
                        "only an application's investigation records the application",
                    ));
                }
                v.application = Some(doudi_protocol::doc::visit::Application {
                    accepted_on,
                    channel: application.channel.into(),
                    proxy_name: application.proxy_name.filter(|n| !n.trim().is_empty()),
                    authorisation,
                    pledge_signed: application.pledge_signed,
                    data_check_authorised: application.data_check_authorised,
                    kin_filing: application.kin_filing,
                });
                Ok(())
            },
            |_| Ok(()),
        )
    }

    /// The conclusion (调查结论) and its notes.
    pub fn set_conclusion(
        &self,
        visit_id: String,
        conclusion: Option<Conclusion>,
        notes: Option<String>,
    ) -> Result<()> {
        self.inner.change_visit(&visit_id, |v| {
            v.conclusion = conclusion.map(Into::into);
            v.conclusion_notes = notes;
        })
    }

    /// Where the visit took place (one fix, WGS-84).
    pub fn set_visit_location(&self, visit_id: String, lat: f64, lon: f64) -> Result<()> {
        let point = gps(Some(lat), Some(lon))?;
        self.inner.change_visit(&visit_id, |v| {
            v.gps = point;
        })
    }

    /// Attach a photo: it goes through the photo pipeline (upright, 1600 px JPEG, thumbnail, no
    /// metadata), is stored encrypted and waits for upload. Returns its SHA-256.
    // The app's call names each field of the capture (uniffi has no builder).
    #[allow(clippy::too_many_arguments)]
    pub fn attach_photo(
        &self,
        visit_id: String,
        bytes: Vec<u8>,
        category: PhotoCategory,
        caption: Option<String>,
        captured_at: i64,
        lat: Option<f64>,
        lon: Option<f64>,
    ) -> Result<String> {
        let point = gps(lat, lon)?;
        let processed = photo::process_photo(&bytes, &PhotoConfig::default())?;
        let hash = processed.image.sha256.clone();
        let key = BlobHash::parse(&hash).map_err(DoudiError::internal)?;
        let vid = visit_id.clone();
        self.inner.edit_visit(
            &visit_id,
            |v| {
                v.photos.insert(
                    key,
                    Photo {
                        category: category.into(),
                        caption,
                        captured_at: UnixMillis(captured_at),
                        gps: point,
                    },
                );
                Ok(())
            },
            |w| {
                w.put_blob(
                    &hash,
                    &vid,
                    "photo",
                    processed.image.mime,
                    &processed.image.bytes,
                    Some(&processed.thumbnail.bytes),
                    now_ms(),
                )
            },
        )?;
        Ok(processed.image.sha256)
    }

    /// Attach a signature (签字) drawn on the phone, as a PNG. Investigators give their account
    /// id; a family member gives their member id (of the household, or added at this visit):
    /// each member present signs (DB2021 art. 16). Returns its SHA-256.
    #[uniffi::method(default(member_id = None))]
    #[allow(clippy::too_many_arguments)]
    pub fn attach_signature(
        &self,
        visit_id: String,
        png: Vec<u8>,
        signer_name: String,
        role: SignerRole,
        account_id: Option<String>,
        signed_at: i64,
        member_id: Option<String>,
    ) -> Result<String> {
        let account = account_id
            .map(|a| {
                AccountId::parse(&a).map_err(|_| {
                    DoudiError::invalid("account_id", "账号不正确", "not an account id")
                })
            })
            .transpose()?;
        let member = member_id
            .map(|m| {
                MemberId::parse(&m).map_err(|_| {
                    DoudiError::invalid("member_id", "成员编号不正确", "not a member id")
                })
            })
            .transpose()?;
        let processed = photo::process_signature(&png, &SignatureConfig::default())?;
        let hash = processed.image.sha256.clone();
        let key = BlobHash::parse(&hash).map_err(DoudiError::internal)?;
        let vid = visit_id.clone();
        self.inner.edit_visit(
            &visit_id,
            |v| {
                v.signatures.insert(
                    key,
                    Signature {
                        signer_name,
                        role: role.into(),
                        account,
                        member,
                        signed_at: Some(UnixMillis(signed_at)),
                    },
                );
                Ok(())
            },
            |w| {
                w.put_blob(
                    &hash,
                    &vid,
                    "signature",
                    processed.image.mime,
                    &processed.image.bytes,
                    None,
                    now_ms(),
                )
            },
        )?;
        Ok(hash)
    }

    /// The stored image of a photo or signature (`thumbnail` for the small one). Offline.
    pub fn attachment(&self, hash: String, thumbnail: bool) -> Result<Option<Vec<u8>>> {
        self.inner.store().blob(&hash, thumbnail)
    }

    /// Check a visit against the rules and submit it (it goes to the server at the next sync).
    /// With blocking issues nothing changes and the issues say what to fix.
    pub fn submit_visit(&self, visit_id: String) -> Result<SubmitOutcome> {
        self.inner.edit_visit(
            &visit_id,
            |v| {
                let mut candidate = v.clone();
                candidate.status = VisitStatus::Submitted;
                candidate.submitted_at = Some(UnixMillis(now_ms()));
                candidate.ended_at.get_or_insert(UnixMillis(now_ms()));
                let mut issues = Vec::new();
                candidate.validate(&mut issues);
                let blocking = doudi_protocol::doc::validate::has_errors(&issues);
                if !blocking {
                    *v = candidate;
                }
                Ok(SubmitOutcome {
                    submitted: !blocking,
                    issues: issues.iter().map(issue_of).collect(),
                })
            },
            |_| Ok(()),
        )
    }

    /// File a proactive-discovery report (主动发现) for a household on record or a new
    /// person/address. Returns the report id.
    pub fn file_report(&self, report: ReportInput) -> Result<String> {
        let (_, account) = self.inner.actor_and_account()?;
        let reporter = AccountId::parse(&account.id).map_err(DoudiError::internal)?;
        let captured = self
            .inner
            .capture("person_id_number", report.person_id_number.as_deref())?;
        let (target, household_grid) = match &report.household_id {
            Some(h) => {
                let hid = parse_doc_id("household_id", h)?;
                let grid = match self.inner.store().index.get(h) {
                    Some(Summary::Household(x)) => Some(x.grid.clone()),
                    _ => return Err(DoudiError::not_found("household", h)),
                };
                (Target::Household(hid), grid)
            }
            None => (
                Target::Person {
                    name: report.person_name.clone().unwrap_or_default(),
                    identity: captured.as_ref().map(|(_, s)| s.clone()),
                    address: report.address.clone(),
                    phone: report.phone.clone(),
                },
                None,
            ),
        };
        let grid = match report.grid.clone().or(household_grid) {
            Some(g) => g,
            None => self.inner.default_grid(&account)?,
        };
        let channel = Channel::parse(&report.channel).ok_or_else(|| {
            DoudiError::invalid("channel", "发现渠道不正确", "unknown channel code")
        })?;
        let urgency = Urgency::parse(&report.urgency).ok_or_else(|| {
            DoudiError::invalid("urgency", "紧急程度不正确", "unknown urgency code")
        })?;
        let groups = report
            .target_groups
            .iter()
            .map(|g| {
                TargetGroup::parse(g).ok_or_else(|| {
                    DoudiError::invalid(
                        "target_groups",
                        "重点群体不正确",
                        "unknown target group code",
                    )
                })
            })
            .collect::<Result<_>>()?;
        let mut r = DiscoveryReport::new(reporter);
        r.reporter_name = Some(account.display_name.clone());
        r.reported_at = Some(UnixMillis(now_ms()));
        r.channel = Some(channel);
        r.target = Some(target);
        r.target_groups = groups;
        r.urgency = Some(urgency);
        r.emergency_24h = report.emergency_24h;
        r.notes = report.notes.clone();
        r.gps = gps(report.lat, report.lon)?;
        r.status = DiscoveryStatus::Submitted;
        let numbers: Vec<(String, &IdNumber)> = match (&r.target, &captured) {
            (Some(Target::Person { .. }), Some((n, _))) => {
                vec![(doudi_protocol::doc::identity::TARGET_PERSON.to_owned(), n)]
            }
            _ => Vec::new(),
        };
        self.inner.create_with(&grid, &r, &numbers)
    }

    /// Visits a reviewer sent back (已退回), with the reviewer's comment. Offline.
    pub fn returned_visits(&self) -> Vec<VisitSummary> {
        self.visits_with_status(VisitStatus::Returned)
    }

    /// Visits on this phone still in draft. Offline.
    pub fn draft_visits(&self) -> Vec<VisitSummary> {
        self.visits_with_status(VisitStatus::Draft)
    }
}

/// For tools and tests (not exported to the bindings).
impl DoudiClient {
    pub(super) fn visits_with_status(&self, status: VisitStatus) -> Vec<VisitSummary> {
        let store = self.inner.store();
        store
            .index
            .iter()
            .filter_map(|(id, s)| match s {
                Summary::Visit(v) if v.status == status.as_str() => Some(visit_summary(id, v)),
                _ => None,
            })
            .collect()
    }
}
