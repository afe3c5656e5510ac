"""Phrases and labels of the game packages with many sounds: Wesnoth, Tux Paint stamps, 0 A.D.

Same conventions as ``sfx_names.py``; fantasy names are said as what they sound like.
"""

from __future__ import annotations

import re

from sfx_labels import Entry, Naming, article, drop_reason, lookup
from sfx_labels import entry as _e
from sfx_names import animal_phrase
from sfx_sources import SourceFile

# ---- wesnoth-1.16-data: key "folder/stem" with the trailing take number removed ---------------

WESNOTH_DROPS = (
    (r"magic|heal|entangle|petrified|poison|slowed", "fantasy: a spell or status effect"),
    (r"dragonstick|/ink(-miss)?$|wose|pincers|potion|/net$", "unclear: the name does not say what it sounds like"),
)
WESNOTH: tuple[Entry, ...] = (
    _e(r"ambient/birds", "birds singing outdoors", "birdsong"),
    _e(r"ambient/campfire", "a campfire crackling"),
    _e(r"ambient/morning", "a morning countryside ambience with birds", label="ambience"),
    _e(r"ambient/night", "a quiet night-time outdoor ambience", label="ambience"),
    _e(r"ambient/ship", "a wooden ship creaking at sea", label="ambience"),
    _e(r"ambient/wardrums", "war drums beating", label="percussion"),
    _e(r"horn-signals/horn", "a horn signal call", "a hunting horn call", label="music"),
    _e(r"/axe$", "a battle axe chop"),
    _e(r"bat-flapping", "bat wings flapping", label="animal"),
    _e(r"bat-hit", "a bat squeaking"),
    _e(r"bite", "an animal biting, a snapping bite", label="animal"),
    _e(r"bow-puny-fire-miss|bow-fire-miss", "a flaming arrow whooshing past"),
    _e(r"(cross)?bow(-puny)?-fire$", r"a flaming arrow shot from a \1bow", label="weapon"),
    _e(r"(cross)?bow(-puny)?-miss", r"an arrow from a \1bow whooshing past"),
    _e(r"(cross)?bow(-puny)?$", r"a \1bow firing an arrow"),
    _e(r"cave-in", "rocks collapsing in a cave-in"),
    _e(r"claws", "claws slashing", label="animal"),
    _e(r"/(club|mace|flail|staff|spear|hatchet|throwing-knife|sling)(-big)?-miss",
       r"a \1 swinging through the air and missing"),
    _e(r"/(club|mace|flail|sword)$", r"a \1 hit", label="weapon"),
    _e(r"/staff$", "a wooden staff striking", label="weapon"),
    _e(r"/(spear|hatchet|throwing-knife)$", r"a \1 strike", label="weapon"),
    _e(r"/sling(-big)?$", "a sling throwing a stone"),
    _e(r"dagger-swish", "a dagger swishing"),
    _e(r"/dart$", "a thrown dart", label="weapon"),
    _e(r"/knife$", "a knife slash", label="weapon"),
    _e(r"/fist$", "a punch"),
    _e(r"drake-die", "a large reptile's dying roar", label="creature"),
    _e(r"drake-hit", "a large reptile roaring in pain", label="creature"),
    _e(r"dwarf-die", "a gruff man's death cry"),
    _e(r"dwarf-hit", "a gruff man grunting in pain"),
    _e(r"dwarf-laugh", "a gruff man laughing"),
    _e(r"elf-hit", "a man grunting in pain"),
    _e(r"human-female-die", "a woman's death scream"),
    _e(r"human-female-hit", "a woman crying out in pain", label="human"),
    _e(r"human-old-die", "an old man's death cry", label="human"),
    _e(r"human-old-hit", "an old man grunting in pain"),
    _e(r"human-die", "a man's death scream"),
    _e(r"human-hit", "a man grunting in pain"),
    _e(r"mermaid-(die|hit)", "a woman crying out", label="human"),
    _e(r"mermen-(die|hit)", "a man crying out", label="human"),
    _e(r"/groan$", "a man groaning"),
    _e(r"/ugg$", "a man grunting"),
    _e(r"witches-laugh", "a witch cackling", "a cackling laugh", label="human"),
    _e(r"/explosion$", "an explosion"),
    _e(r"fanfare-short", "a short brass fanfare"),
    _e(r"/fire$|melee-fire", "a burst of fire"),
    _e(r"flame-big(-miss)?", "a big burst of flame roaring", label="fire"),
    _e(r"/fuse$", "a burning fuse fizzing"),
    _e(r"/torch(-miss)?$", "a torch swung with roaring flames", label="fire"),
    _e(r"ghoul-hit", "a monster groaning in pain"),
    _e(r"goblin-die", "a small monster's dying screech"),
    _e(r"goblin-hit", "a small monster screeching in pain"),
    _e(r"orc-small-die", "a small gruff monster's death cry"),
    _e(r"orc-small-hit", "a small gruff monster grunting in pain"),
    _e(r"orc-die", "a gruff monster's death cry"),
    _e(r"orc-hit", "a gruff monster grunting in pain"),
    _e(r"(ogre|troll)-die", "a huge monster's dying roar"),
    _e(r"(ogre|troll)-hit", "a huge monster roaring in pain"),
    _e(r"(yeti)-die", "a huge beast's dying roar"),
    _e(r"(yeti)-hit", "a huge beast roaring in pain"),
    _e(r"tusker-charge(-miss)?", "a large beast charging and grunting"),
    _e(r"tusker-(die|hit)", "a large beast squealing in pain"),
    _e(r"gryphon-(die|hit|shriek)", "a giant bird of prey shrieking", label="creature"),
    _e(r"lich-(die|hit)", "an eerie ghostly shriek", label="creature"),
    _e(r"naga-(die|hit)", "a hissing creature crying out"),
    _e(r"skeleton(-big)?-(die|hit)", "bones rattling and clattering", label="creature"),
    _e(r"zombie-(attack|hit)", "a zombie groaning"),
    _e(r"wail", "an eerie ghostly wail"),
    _e(r"/gold$", "coins jingling"),
    _e(r"gunshot", "a gunshot"),
    _e(r"thunderstick(-miss)?", "a musket gunshot", "a flintlock gun firing"),
    _e(r"hiss", "a snake hissing"),
    _e(r"horse(-elf)?-canter", "horse hooves cantering"),
    _e(r"horse-die", "a horse's dying whinny"),
    _e(r"horse-hit", "a horse whinnying in pain"),
    _e(r"lightning(-miss)?", "a crackling lightning strike", "a crack of thunder"),
    _e(r"/miss$", "a weapon swinging through the air"),
    _e(r"mud-(fist|glob)(-miss)?", "a wet squelchy splat of mud", label="impact"),
    _e(r"open-chest", "a chest creaking open", label="door"),
    _e(r"/rumble$", "a deep earth rumble", label="impact"),
    _e(r"squishy-(hit|miss|strike)", "a squishy wet hit", label="impact"),
    _e(r"/tail$", "a heavy swipe and thud", label="impact"),
    _e(r"/throw$", "something thrown with a whoosh"),
    _e(r"water-blast", "a blast of water splashing"),
    _e(r"wolf-die", "a wolf's dying yelp"),
    _e(r"wolf-growl", "a wolf growling"),
    _e(r"wolf-hit", "a wolf yelping in pain"),
    _e(r"sounds/(arrive|join|receive|chat|chat-friend|chat-highlight)$", "a chat message notification"),
    _e(r"sounds/leave$", "a user left notification chime"),
    _e(r"sounds/bell$", "a bell notification chime"),
    _e(r"sounds/(button|checkbox|slider)$", r"a \1 click interface sound"),
    _e(r"sounds/select(-unit)?$", "a selection click interface sound"),
    _e(r"sounds/(expand|contract)$", r"a menu \1ing interface sound"),
    _e(r"sounds/gamestart$", "a game start notification chime"),
    _e(r"sounds/timer$", "a timer running out alert"),
)


def _wesnoth(source: SourceFile) -> Naming | str:
    folder = source.file.rsplit("/", 2)[-2]
    key = f"{folder}/{re.sub(r'-[0-9]+$', '', source.name)}"
    return drop_reason(WESNOTH_DROPS, key) or lookup(WESNOTH, key) or f"no label: {key!r}"


# ---- tuxpaint-stamps-default: key "folder/stem", the stamp's description as a second phrase ---

TUXPAINT_ANIMALS = {
    "heron_greatblue_flying": "heron", "sea_lion": "sea lion", "cow_white": "cow",
    "sheep_lamb": "lamb", "pig_golden": "pig", "pig_golden2": "pig", "mountaingoat": "goat",
    "nandou": "rhea", "tucan": "toucan", "xanthia": "moth", "bat_left": "bat", "blackcat": "cat",
}
TUXPAINT_DROPS = (
    (r"christmas/(gift|hard_candy)|halloween/spider|hanukkah/|space/|symbols/faces/|town/|"
     r"bathyscape", "unclear: the stamp's name does not say what its sound is"),
)
TUXPAINT: tuple[Entry, ...] = (
    _e(r"apple_red", "biting into a crunchy apple", label="household"),
    _e(r"camera_35mm", "a camera shutter clicking"),
    _e(r"cymbal_crash", "a crash cymbal"),
    _e(r"drum_tomtom_floor", "a floor tom drum", label="percussion"),
    _e(r"drumkit", "a drum kit playing a beat"),
    _e(r"/(cello|violin|bassoon)$", r"a \1 playing", label="music"),
    _e(r"Washing-machine", "a washing machine running"),
    _e(r"scissors", "scissors snipping"),
    _e(r"dishes/bottle", "a glass bottle clinking"),
    _e(r"dishes/glass", "a drinking glass clinking"),
    _e(r"kettle", "an electric kettle boiling"),
    _e(r"rubberduck", "a rubber duck squeaking"),
    _e(r"toilet", "a toilet flushing", label="household"),
    _e(r"tools/hammer", "a hammer hammering a nail"),
    _e(r"tools/mallet_metal", "a metal mallet striking", label="tool"),
    _e(r"tools/saw", "a hand saw sawing wood"),
    _e(r"vacuum_cleaner", "a vacuum cleaner running"),
    _e(r"final-roll-call", "a solemn memorial tune", label="music"),
    _e(r"lightningbolt", "a lightning bolt and a thunderclap"),
    _e(r"santahat", "a jolly ho ho ho laugh"),
    _e(r"halloween/ghost", "an eerie ghostly moan"),
    _e(r"fireworks", "fireworks exploding"),
    _e(r"firetruck", "a fire truck siren wailing", label="vehicle"),
)


def _tuxpaint(source: SourceFile) -> Naming | str:
    key = f"{source.context}/{source.name}"
    reason = drop_reason(TUXPAINT_DROPS, key)
    if reason:
        return reason
    if key.startswith("animals/") or source.name in TUXPAINT_ANIMALS:
        animal = TUXPAINT_ANIMALS.get(source.name, source.name.replace("_", " "))
        found = Naming((animal_phrase(animal),), "animal")
    else:
        found = lookup(TUXPAINT, key)
    if found is None:
        return f"no label: {key!r}"
    description = source.description.rstrip(".!").strip()
    if re.match(r"^(A|An|The)\s+\S+(\s+\S+){0,4}$", description):
        found = Naming((*found.phrases, f"{description[0].lower()}{description[1:]} sound"), found.label)
    return found


# ---- 0ad-data: key "folder/stem" inside audio/ ------------------------------------------------

ZERO_AD_SURFACES = {"rock": "rock", "wood": "a wooden floor", "stone": "stone", "dirt": "dirt"}
ZERO_AD_DROPS = (
    (r"interface/(complete|select)/|siege_select|ship_select",
     "unclear: a game-event sound whose name says nothing about how it sounds"),
)
ZERO_AD: tuple[Entry, ...] = (
    _e(r"fauna/death/death_(horse|camel)", r"a \1's dying cry", label="animal"),
    _e(r"fauna/death/goat", "a goat's dying bleat", "a goat bleating", label="animal"),
    _e(r"fauna/death/animal_death_generic", "an animal's dying cry", label="animal"),
    _e(r"fauna/movement/camel", "a camel walking", label="footsteps"),
    _e(r"voice/global/civ_dog_bark", "a dog barking"),
    _e(r"voice/global/civ_dog_move", "a dog panting and barking", label="animal"),
    _e(r"actor/gate/stonegate_(open|clos)e?", r"a heavy stone gate \1ing", label="door"),
    _e(r"human/death/female_death", "a woman's death scream"),
    _e(r"human/death/(male_)?death", "a man's death scream"),
    _e(r"footsteps/fo+r?t?step_(\w+)_(running|walking)", r"\2 footsteps on \1", r"\2 on \1"),
    _e(r"hstep_run_dirt", "running footsteps on dirt"),
    _e(r"hstep_dirt", "footsteps on dirt"),
    _e(r"mounted/death/death_horse", "a horse's dying whinny"),
    _e(r"mounted/movement/mstep", "horse hooves trotting"),
    _e(r"ship/(ship_move|smove|warship_move)", "a wooden ship creaking through the water", label="vehicle"),
    _e(r"ship/warship_death", "a wooden ship breaking apart", label="impact"),
    _e(r"singlesteps/fs_([a-z]+)", r"a single footstep on \1"),
    _e(r"building/amb_farm", "a farmyard ambience with animals", label="ambience"),
    _e(r"building/amb_port", "a harbour ambience with water and gulls", label="ambience"),
    _e(r"building/amb_trade", "a busy marketplace ambience", label="ambience"),
    _e(r"dayscape/day_tropical", "a tropical jungle ambience", label="ambience"),
    _e(r"dayscape/day_temperate", "a daytime countryside ambience with birds", label="ambience"),
    _e(r"water/river_med", "a river flowing steadily"),
    _e(r"water/river_(fast|raging|slow)", r"a \1 river flowing"),
    _e(r"water/waterfall", "a waterfall"),
    _e(r"water/wavecrash", "waves crashing"),
    _e(r"water/waverocky", "waves breaking on rocks"),
    _e(r"water/wave", "waves washing ashore"),
    _e(r"weather/rain", "steady rain falling"),
    _e(r"weather/snowstorm", "a howling snowstorm"),
    _e(r"weather/thunder", "rolling thunder"),
    _e(r"weather/windgust", "a gust of wind"),
    _e(r"weather/windleaves", "wind rustling through leaves", label="weather"),
    _e(r"weather/windstorm", "a windstorm"),
    _e(r"weather/wind", "wind blowing"),
    _e(r"destruction/building_collapse", "a building collapsing"),
    _e(r"destruction/explode_debris", "an explosion with falling debris"),
    _e(r"attack/fire/c_", "a fire crackling"),
    _e(r"attack/fire/sp_", "a fire spreading and roaring"),
    _e(r"attack/fire/sz", "a fire flaring up"),
    _e(r"impact/arrow_(dirt|metal|stone|wood)", r"an arrow hitting \1", label="impact"),
    _e(r"impact/arrow_", "an arrow hitting its target", label="impact"),
    _e(r"impact/fleshimp", "a heavy blow hitting flesh", label="impact"),
    _e(r"impact/fleshstab", "a blade stabbing flesh", label="impact"),
    _e(r"impact/shield_metal", "a blow hitting a metal shield", label="impact"),
    _e(r"impact/shield_wood", "a blow hitting a wooden shield", label="impact"),
    _e(r"impact/siegeprojectilehit", "a boulder crashing down", label="impact"),
    _e(r"impact/sling_(metal|stone|wood)", r"a sling stone hitting \1", label="impact"),
    _e(r"siege/ballist", "a ballista firing"),
    _e(r"siege/onager_moving", "a heavy wooden cart rolling", label="vehicle"),
    _e(r"siege/onager_shooting", "a catapult launching"),
    _e(r"siege/ram_(attack|attack_order)", "a battering ram striking", label="impact"),
    _e(r"siege/ram_move", "a heavy wooden cart rolling", label="vehicle"),
    _e(r"weapon/musket", "a musket gunshot"),
    _e(r"weapon/arrowfly", "an arrow whizzing past"),
    _e(r"weapon/bow_attack", "a bow releasing an arrow"),
    _e(r"weapon/jav_attack", "a javelin being thrown", label="weapon"),
    _e(r"weapon/pike_attack", "a pike thrust"),
    _e(r"weapon/sling", "a sling whirling and throwing"),
    _e(r"weapon/spear_attack", "a spear thrust"),
    _e(r"weapon/sword_attack", "a sword swing"),
    _e(r"weapon/swordhit", "swords clashing"),
    _e(r"interface/alarm/", "a game alert sound"),
    _e(r"interface/ui/chat_alert", "a chat message notification"),
    _e(r"interface/ui/gamesetup_join", "a player joined notification chime"),
    _e(r"construction/con_saw", "a hand saw sawing wood"),
    _e(r"construction/con_stone", "a chisel striking stone"),
    _e(r"construction/con_wood", "a hammer striking wood"),
    _e(r"farming/hoe", "a hoe digging into soil"),
    _e(r"foraging/leaves", "leaves and branches rustling", label="impact"),
    _e(r"gathering/gather_\w+expire", "a gathered pile running out", label="tool"),
    _e(r"gathering/gather_field", "cutting crops with a sickle", label="tool"),
    _e(r"gathering/gather_fruit", "picking fruit from a bush, leaves rustling", label="tool"),
    _e(r"gathering/gather_meat", "butchering meat with a knife", label="tool"),
    _e(r"lumbering/lumber_treeexpire", "a tree falling", label="impact"),
    _e(r"lumbering/lumber_tree", "an axe chopping a tree"),
    _e(r"mining/mine_(metal|stone)", r"a pickaxe striking \1"),
)


def _zero_ad(source: SourceFile) -> Naming | str:
    key = f"{source.context}/{source.name}".lower()
    animal = re.match(r"actor/fauna/animal/([a-z]+)_?(attack|death|order|idle|select|trained|call|squeal)?", key)
    if animal and not key.startswith("actor/fauna/death"):
        name, action = animal.group(1), animal.group(2)
        if action == "death":
            return Naming((f"{article(name)} {name}'s dying cry", animal_phrase(name)), "animal")
        return Naming((animal_phrase(name),), "animal")
    return drop_reason(ZERO_AD_DROPS, key) or lookup(ZERO_AD, key) or f"no label: {key!r}"


NAMERS = {
    "wesnoth-1.16-data": _wesnoth,
    "tuxpaint-stamps-default": _tuxpaint,
    "0ad-data": _zero_ad,
}
